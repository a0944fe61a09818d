"""What an asset function sees of the run it is part of: :class:`Context` and :class:`Output`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assetflow.partitions.core import UNPARTITIONED_KEY


@dataclass
class Context:
    """Handed to an asset function that takes a ``context`` parameter.

    ``time_window`` is the ``(start, end)`` of a time partition as tz-aware datetimes, or ``None``.
    ``log`` is a :class:`logging.Logger` whose records are stored with the materialization.
    ``warehouse`` is a DuckDB connection to the project's warehouse, opened on first use.
    """

    asset_name: str
    partition_key: str = UNPARTITIONED_KEY
    time_window: tuple[datetime, datetime] | None = None
    run_id: str = ""
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("assetflow.asset"))
    metadata: dict[str, Any] = field(default_factory=dict)
    _warehouse_factory: Callable[[], Any] | None = field(default=None, repr=False)
    _warehouse: Any = field(default=None, repr=False)

    @property
    def warehouse(self) -> Any:
        """A DuckDB connection to the project's warehouse (an in-memory one in unit tests)."""
        if self._warehouse is None:
            if self._warehouse_factory is not None:
                self._warehouse = self._warehouse_factory()
            else:
                import duckdb

                self._warehouse = duckdb.connect()
        return self._warehouse

    def add_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Attach metadata (row counts, URLs, ...) shown in history and the UI."""
        self.metadata.update(metadata)


@dataclass(frozen=True)
class Output:
    """A return value with an explicit data version and/or metadata.

    ``return Output(df, data_version="v3", metadata={"source": "api"})``.
    """

    value: Any
    data_version: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
