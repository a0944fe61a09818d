"""Observing sources: look at each source partition and record what changed.

``status``, ``plan``, ``materialize`` and the scheduler observe the sources their targets read
before they read history, so a file that landed or changed is seen at once (``source_changed``,
``waiting``); ``assetflow observe`` does it on its own. A source whose observation fails (its
function raised) keeps what was last recorded about it: a flaky API does not make every reader
wait, and the failure is logged and reported by ``observe``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.definitions.sources import SOURCE_CODE_VERSION, Observation, observe
from assetflow.errors import StateError
from assetflow.graph.asset_graph import AssetGraph
from assetflow.planner.keys import ExistingKeys
from assetflow.records import new_id, utcnow

if TYPE_CHECKING:
    from assetflow.store.observations import ObservationRow
    from assetflow.store.store import StateStore

__all__ = ["Observed", "observe_sources", "sources_read_by"]

_LOG = logging.getLogger("assetflow")


@dataclass(frozen=True)
class Observed:
    """One observation pass: what every partition looked like, and what changed."""

    observations: tuple[Observation, ...]
    changed: tuple[Observation, ...]

    @property
    def errors(self) -> list[Observation]:
        return [o for o in self.observations if o.error is not None]

    def to_json(self) -> dict[str, object]:
        """The ``observe --json`` document."""
        changed = {(o.source, o.partition) for o in self.changed}
        return {
            "observations": [
                {
                    "source": o.source,
                    "partition": o.partition,
                    "present": o.present,
                    "data_version": o.data_version,
                    "changed": (o.source, o.partition) in changed,
                    "paths": [str(p) for p in o.paths],
                    "error": o.error,
                }
                for o in self.observations
            ]
        }


def sources_read_by(graph: AssetGraph, names: Iterable[str] | None) -> list[str]:
    """The sources among ``names`` and their ancestors (every source for ``None``)."""
    if names is None:
        return [name for name in graph.topological_order() if graph[name].is_source]
    found: set[str] = set()
    for name in names:
        for candidate in (name, *graph.ancestors(name)):
            if graph[candidate].is_source:
                found.add(candidate)
    return sorted(found)


def observe_sources(
    graph: AssetGraph,
    store: StateStore,
    root: Path,
    now: datetime | None = None,
    sources: Collection[str] | None = None,
    partitions: Sequence[tuple[str, str]] | None = None,
    strict: bool = True,
) -> Observed:
    """Observe every existing partition of ``sources`` (all sources for ``None``), or just
    ``partitions``, and record the changes; returns what was seen.

    Not ``strict`` (the observation a status or plan makes first): a state file that cannot
    be written (read-only, disk full) is logged and the changes go unrecorded, so looking at a
    project never fails for it; ``assetflow observe`` is strict and fails.
    """
    seen = look_at_sources(graph, root, now, sources, partitions)
    return record_observed(graph, store, root, seen, strict)


def look_at_sources(
    graph: AssetGraph,
    root: Path,
    now: datetime | None = None,
    sources: Collection[str] | None = None,
    partitions: Sequence[tuple[str, str]] | None = None,
) -> list[Observation]:
    """The first half of :func:`observe_sources`: what each partition looks like (failures
    logged), not recorded yet."""
    moment = now or utcnow()
    names = sources_read_by(graph, None) if sources is None else sorted(sources)
    if not names:
        return []
    if partitions is None:
        existing = ExistingKeys(graph, moment)
        partitions = [(name, key) for name in names for key in existing.keys(name)]
    seen = [observe(graph[name], key, root) for name, key in partitions]
    for failed in seen:
        if failed.error is not None:
            _LOG.warning(
                "source %s[%s]: not observed: %s", failed.source, failed.partition, failed.error
            )
    return seen


def unrecorded(store: StateStore, seen: Sequence[Observation]) -> bool:
    """Whether recording ``seen`` would change history (read only, so that a status can ask
    inside its reading session and open the file once when nothing changed, as usual)."""
    fine = [o for o in seen if o.error is None]
    if not fine:
        return False
    known = store.observed_versions(sorted({o.source for o in fine}))
    return any(
        (o.source, o.partition) not in known or known[(o.source, o.partition)] != o.data_version
        for o in fine
    )


def record_observed(
    graph: AssetGraph, store: StateStore, root: Path, seen: Sequence[Observation], strict: bool
) -> Observed:
    """The second half of :func:`observe_sources`: record what changed in ``seen``."""
    if not seen:
        return Observed((), ())
    # Stamped with the wall clock, not ``now``: the latest observation must win in history
    # even when the caller's clock stands still (a scheduler's injected clock, a status "as of").
    recorded = utcnow()
    rows = [_row(graph, o, recorded, root) for o in seen if o.error is None]
    try:
        changed = {(r.source, r.partition) for r in store.record_observations(rows)}
    except StateError as exc:
        if strict:
            raise
        _LOG.warning("source observations not recorded: %s", exc)
        changed = set()
    return Observed(tuple(seen), tuple(o for o in seen if (o.source, o.partition) in changed))


def _row(graph: AssetGraph, seen: Observation, moment: datetime, root: Path) -> ObservationRow:
    from assetflow.store.observations import ObservationRow

    detail = None
    if seen.paths:
        shown = []
        for path in seen.paths[:20]:
            try:
                shown.append(str(path.relative_to(root)))
            except ValueError:
                shown.append(str(path))
        more = len(seen.paths) - len(shown)
        detail = ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")
    return ObservationRow(
        id=new_id(),
        source=seen.source,
        partition=seen.partition,
        observed_at=moment,
        data_version=seen.data_version,
        code_version=SOURCE_CODE_VERSION,
        inputs_version=graph.inputs_version(seen.source),
        detail=detail,
    )
