"""The ``dask`` executor: attempts as futures on a Dask distributed cluster.

Only step attempts go to Dask; the run itself (order, pools, leases, retries, recording) stays
in the coordinating process, so every guarantee holds whatever the cluster does. Each attempt
is one future whose key carries the run id and the attempt's materialization id, so two runs
on one cluster never share (or merge) a task.

- Connects to ``executor.address`` / ``--address``, or starts a ``LocalCluster`` of worker
  processes for the run and closes it after.
- Before the first step, a preflight on every worker imports the project and checks that the
  data storage is reachable; a failure names the worker and the problem (exit 2).
- A worker lost mid-attempt fails that attempt with reason ``worker lost`` (the cluster this
  executor starts never re-runs a task on its own: the retry policy decides, and each retry is
  recorded). A cluster given by address may have its own ``allowed-failures``: Dask may then
  re-run the task elsewhere by itself before giving up.
- An attempt past its asset's timeout is failed at the timeout, and its worker restarted.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from assetflow.errors import RunError
from assetflow.runner.attempt import AttemptOutcome, AttemptSpec
from assetflow.runner.executors import TIMEOUT_GRACE_S, lost, timed_out

if TYPE_CHECKING:
    from assetflow.definitions.assets import AssetDef

__all__ = ["DaskExecutor"]

CONNECT_TIMEOUT_S = 10.0


class DaskExecutor:
    """A Dask client for one run (see the module docstring)."""

    kind = "dask"

    def __init__(self, config_path: str, workers: int, address: str | None = None) -> None:
        import dask
        from distributed import Client, LocalCluster

        self.config_path = config_path
        self._cluster: Any = None
        self._client: Any = None
        try:
            if address is not None:
                try:
                    self._client = Client(address, timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
                except (OSError, TimeoutError) as exc:
                    raise RunError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
            else:
                # A lost worker fails the attempt at once (no silent re-run by Dask).
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=max(1, workers),
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                        silence_logs=logging.ERROR,
                    )
                self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
            self._preflight()
        except BaseException:
            self.close()
            raise
        link = self._client.dashboard_link if self._client is not None else ""
        where = address or "a local cluster"
        self.details = {"executor": "dask", "address": where, "dashboard": str(link or "")}

    def _preflight(self) -> None:
        from assetflow.runner.remote import preflight

        found = self._client.run(preflight, self.config_path, on_error="return")
        problems = {
            worker: (problem if not isinstance(problem, BaseException) else repr(problem))
            for worker, problem in found.items()
            if problem is not None
        }
        if not found:
            raise RunError("the Dask cluster has no workers")
        if problems:
            worker, problem = sorted(problems.items())[0]
            raise RunError(f"Dask worker {worker} cannot run the project's steps: {problem}")

    def run(self, spec: AttemptSpec, definition: AssetDef) -> AttemptOutcome:
        from distributed import KilledWorker

        from assetflow.runner.remote import perform_remote

        key = f"assetflow-{spec.run_id}-{spec.asset}-{spec.materialization_id:x}"
        future = self._client.submit(
            perform_remote, self.config_path, spec, key=key, pure=False, retries=0
        )
        limit = definition.timeout.total_seconds() if definition.timeout is not None else None
        try:
            outcome: AttemptOutcome = future.result(
                timeout=None if limit is None else limit + TIMEOUT_GRACE_S
            )
        except KilledWorker as exc:
            return lost(spec, definition, str(exc), "dask")
        except TimeoutError:
            worker = self._worker_of(key)
            future.cancel()
            if worker is not None:
                self._stop_worker(worker)
            return timed_out(spec, definition, limit or 0.0, worker or "dask")
        except Exception as exc:  # the connection to the scheduler broke, for one
            return lost(spec, definition, f"{type(exc).__name__}: {exc}", "dask")
        if outcome.timed_out:  # its function may still run on that worker: restart it
            self._stop_worker(outcome.where)
        return outcome

    def _stop_worker(self, address: str) -> None:
        """End the worker process at ``address`` at once; its nanny starts a fresh one.

        Not ``Client.restart_workers``: a graceful close waits for the runaway function's
        thread, and the old process can linger with it.
        """
        with contextlib.suppress(Exception):
            self._client.run(_exit_process, workers=[address], wait=False)

    def _worker_of(self, key: str) -> str | None:
        """The worker processing the task ``key``, if any."""
        with contextlib.suppress(Exception):
            for worker, keys in self._client.processing().items():
                if key in keys:
                    return str(worker)
        return None

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


async def _exit_process() -> None:  # pragma: no cover - runs on the worker, which it ends
    # A coroutine: Dask runs only those without waiting for an answer (there will be none).
    import os

    os._exit(70)
