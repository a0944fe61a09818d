"""The DuckDB state store: run history, lineage, logs, backfills and a per-partition status cache.

:class:`StateStore` opens the file for one short transaction per call; :class:`Recorder`
batches a run's events in front of it.
"""

from __future__ import annotations

from assetflow.store.connection import connect, open_connection
from assetflow.store.history import LogLine, RunSummary
from assetflow.store.recorder import Recorder
from assetflow.store.schema import MIGRATIONS, Migration
from assetflow.store.store import StateStore

__all__ = [
    "MIGRATIONS",
    "LogLine",
    "Migration",
    "Recorder",
    "RunSummary",
    "StateStore",
    "connect",
    "open_connection",
]
