"""The worker side of a step executor: the project loaded once per worker, attempts performed.

A worker process (``processes``) or a Dask worker (``dask``) imports the project from its
``assets.toml`` the first time it is asked, keeps it, and performs attempts on it with no
warehouse (the coordinating process alone holds that file; steps that need it run there).
A long-lived Dask worker that meets an attempt planned with other code than it imported
imports the project again first, so that a run never executes stale code.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import replace
from pathlib import Path

from assetflow.runner.attempt import AttemptOutcome, AttemptSpec, Place, perform
from assetflow.runner.output import routed_output
from assetflow.text import describe_exception, json_safe

__all__ = ["perform_remote", "place_for", "preflight", "this_worker"]

_places: dict[str, Place] = {}
_lock = threading.Lock()


def this_worker() -> str:
    """How outcomes and errors name this process: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def place_for(config_path: str, *, reload: bool = False) -> Place:
    """The project at ``config_path`` as this worker imported it (imported on first use)."""
    from assetflow.config.loading import load_definitions
    from assetflow.config.models import load_config
    from assetflow.graph.asset_graph import AssetGraph

    with _lock:
        place = _places.get(config_path)
        if place is None or reload:
            config = load_config(Path(config_path))
            definitions = load_definitions(config)
            graph = AssetGraph(definitions.assets, definitions.checks)
            place = Place(graph, config.data_root, config.root, None, name=this_worker())
            _places[config_path] = place
        return place


def perform_remote(config_path: str, spec: AttemptSpec) -> AttemptOutcome:
    """Perform one attempt in this worker (the function an executor sends)."""
    place = place_for(config_path)
    known = place.graph.assets.get(spec.asset)
    if known is None or known.code_version != spec.code_version:
        place = place_for(config_path, reload=True)  # the code changed since it was imported
    with routed_output():  # print() in the asset becomes the attempt's log records
        outcome = plain(perform(place, spec))
    address = _dask_worker_address()
    return outcome if address is None else replace(outcome, where=address)


def plain(outcome: AttemptOutcome) -> AttemptOutcome:
    """``outcome`` with what the asset put in it (metadata, check metadata) as the plain data
    the state file records anyway (:func:`~assetflow.text.json_safe`): a lock or a generator
    in an asset's metadata must travel back from a worker as it is recorded with threads."""
    checks = tuple(replace(c, metadata=json_safe(dict(c.metadata))) for c in outcome.checks)
    return replace(outcome, metadata=json_safe(dict(outcome.metadata)), checks=checks)


def _dask_worker_address() -> str | None:
    """The address of the Dask worker running this task (None outside Dask): the executor
    restarts that worker when the attempt timed out."""
    import sys

    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except Exception:
        return None


def preflight(config_path: str) -> str | None:
    """Whether this worker can run the project's steps: its modules import and its data
    storage is reachable. None when it can, else what is wrong (naming the module or path)."""
    try:
        place = place_for(config_path, reload=True)
    except BaseException as exc:
        return describe_exception(exc)
    data = place.data_dir
    if isinstance(data, Path):
        try:
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"data folder {data} is not writable here: {exc}"
        return None
    try:  # object storage: the bucket answers with these credentials
        from assetflow.io.remote_fs import filesystem_of

        filesystem_of(data).ls(data.url.split("://", 1)[1].split("/", 1)[0])
    except Exception as exc:
        return f"data storage {data.url} is not reachable here: {describe_exception(exc)}"
    return None
