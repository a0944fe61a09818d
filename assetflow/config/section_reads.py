"""What the sections of ``assets.toml`` answer besides their values, without pydantic.

The pydantic models (:mod:`assetflow.config.models` and its section modules) validate a
file; they take these methods from the mixins below. A file validated before is read back
from the config cache (:mod:`assetflow.config.config_cache`) as *copies*: plain objects with
the same attributes and these same methods, so that a read command needs no pydantic (its
import and model building cost a tenth of a second). :data:`COPIES` maps each model's name
to its copy class; ``tests/test_config_cache.py`` checks that every model has one and that a
copy answers every field and method as its model does.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

if TYPE_CHECKING:
    from datetime import timedelta

    from assetflow.config.remote_data import RemoteData
    from assetflow.config.run_sections import StorageSection

PartitionsKind = Literal["hourly", "daily", "weekly", "monthly", "static", "multi"]
PARTITION_KINDS: tuple[PartitionsKind, ...] = typing.get_args(PartitionsKind)


class StorageReads:
    """``[storage]``'s paths (see :class:`~assetflow.config.run_sections.StorageSection`)."""

    if TYPE_CHECKING:
        state: str
        warehouse: str
        data: str
        storage_options: dict[str, Any]
        lock_timeout: timedelta | None

    def data_root(self, root: Path) -> Path | RemoteData:
        """``data`` resolved: a local folder, or the :class:`RemoteData` of an fsspec URL."""
        from assetflow.config.remote_data import data_root

        return data_root(self.data, root, self.storage_options)

    @property
    def lock_timeout_s(self) -> float | None:
        """``lock_timeout`` in seconds; None for the default (``WAREHOUSE_WAIT_S``)."""
        return None if self.lock_timeout is None else self.lock_timeout.total_seconds()

    def resolve(self, root: Path) -> dict[str, Path]:
        """``state``, ``warehouse`` and ``data`` as paths: ``~`` expanded, relative to ``root``.

        ``data`` is left out when it is an fsspec URL: no local path can clash with it.
        """
        paths = {key: Path(getattr(self, key)).expanduser() for key in ("state", "warehouse")}
        resolved = {key: path if path.is_absolute() else root / path for key, path in paths.items()}
        data = self.data_root(root)
        if isinstance(data, Path):
            resolved["data"] = data
        return resolved


class ProjectConfigReads:
    """The whole file's paths (see :class:`~assetflow.config.models.ProjectConfig`)."""

    if TYPE_CHECKING:
        _path: Path

        @property
        def storage(self) -> StorageSection: ...

    @property
    def path(self) -> Path:
        """The absolute path of the ``assets.toml`` this was read from."""
        return self._path

    @property
    def root(self) -> Path:
        """The project root: the folder holding ``assets.toml``."""
        return self._path.parent

    @property
    def state_path(self) -> Path:
        """The state DuckDB file (run history, lineage, status), resolved against the root."""
        return self.storage.resolve(self.root)["state"]

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file the duckdb IO manager writes tables into."""
        return self.storage.resolve(self.root)["warehouse"]

    @property
    def data_path(self) -> Path:
        """The local folder the parquet IO manager writes files under (ConfigError when
        ``[storage] data`` is an fsspec URL: use :attr:`data_root`)."""
        from assetflow.errors import ConfigError

        data = self.data_root
        if not isinstance(data, Path):
            raise ConfigError(f"storage.data is the URL {data.url}, not a local folder")
        return data

    @property
    def data_root(self) -> Path | RemoteData:
        """Where the parquet IO manager writes: a local folder or an fsspec URL."""
        return self.storage.data_root(self.root)


class PartitionsSpecReads:
    """Which form a ``partitions = {...}`` table has (see
    :class:`~assetflow.config.partition_specs.PartitionsSpec`)."""

    if TYPE_CHECKING:
        hourly: Any
        daily: Any
        weekly: Any
        monthly: Any

    @property
    def kind(self) -> PartitionsKind:
        """Which of the six forms this is."""
        return next(kind for kind in PARTITION_KINDS if getattr(self, kind) is not None)

    @property
    def time_window(self) -> Any:
        """The table of a time kind; ``None`` for static and multi."""
        return self.hourly or self.daily or self.weekly or self.monthly


class Copy:
    """A validated section read back from the config cache: its fields as attributes."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Self:
        """A copy with ``update`` applied, as pydantic's ``model_copy`` (no validation)."""
        copied = type(self)(dict(self.__dict__))
        copied.__dict__.update(update or {})
        return copied

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self) -> int:  # as a frozen model's: of its fields (fails on a list)
        return hash((type(self), *(v for k, v in self.__dict__.items() if k != "_path")))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if k != "_path")
        return f"{type(self).__name__}({fields})"


class ProjectConfigCopy(Copy, ProjectConfigReads):
    pass


class StorageSectionCopy(Copy, StorageReads):
    pass


class PartitionsSpecCopy(Copy, PartitionsSpecReads):
    pass


# Every model of assets.toml by name, and the class its copies have.
COPIES: dict[str, type[Copy]] = {
    "ProjectConfig": ProjectConfigCopy,
    "StorageSection": StorageSectionCopy,
    "PartitionsSpec": PartitionsSpecCopy,
    **{
        name: type(f"{name}Copy", (Copy,), {"__module__": __name__})
        for name in (
            "ProjectSection",
            "RetrySpec",
            "FreshnessSpec",
            "AssetSection",
            "SourceSection",
            "DbtSection",
            "ScheduleSection",
            "ExecutorSection",
            "AlertSection",
            "LineageSection",
            "OpenLineageSection",
            "TimeWindowSpec",
            "TimeWindowMappingSpec",
            "MappingSpec",
        )
    },
}
# Each copy class by its name in this module too (as pickle finds classes).
globals().update({copy.__name__: copy for copy in COPIES.values()})
