"""`assets.toml` validated into :class:`ProjectConfig` (found and read by
:mod:`assetflow.config.reading`, which also re-uses what was validated before).

Every problem becomes one :class:`~assetflow.errors.ConfigError` whose lines each name the file,
the key path in TOML terms (``assets.orders.retries.delay``) and what was expected; pydantic's
own error report never reaches the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from assetflow.config.alert_sections import AlertSection
from assetflow.config.fields import (
    ASSET_NAME_RULE,
    IDENTIFIER,
    AssetName,
    Cron,
    Duration,
    ExternalTable,
    ModuleName,
    Problems,
    Section,
    Text,
    Timezone,
    display_path,
    flatten_errors,
    numeric,
    raise_any,
    render_key_path,
    show_value,
)
from assetflow.config.lineage_sections import LineageSection
from assetflow.config.partition_specs import (
    MappingSpec,
    PartitionsSpec,
)
from assetflow.config.reading import CONFIG_FILENAME as CONFIG_FILENAME
from assetflow.config.reading import find_config as find_config
from assetflow.config.reading import load_config as load_config
from assetflow.config.run_sections import MAX_WORKERS as MAX_WORKERS
from assetflow.config.run_sections import ExecutorSection, StorageSection
from assetflow.config.section_reads import ProjectConfigReads
from assetflow.config.storage_paths import storage_clashes
from assetflow.errors import ConfigError, did_you_mean

# --- Tables -----------------------------------------------------------------------------------


class ProjectSection(Section):
    """``[project]``: the project's name, its Python modules and its default timezone."""

    name: Text
    modules: list[ModuleName] = []
    timezone: Timezone = "UTC"
    # Tables other systems make, which every SQL asset may read (never dependencies).
    external: list[ExternalTable] = []
    listeners: list[Text] = []  # "module:Class" run listeners (docs/listeners.md)


class RetrySpec(Section):
    """``retries = {...}``: how often and how patiently a failed attempt is retried."""

    max_retries: Annotated[int, numeric(True, 0)] = 0
    delay: Annotated[float, numeric(False, 0)] = 0.0
    backoff: Annotated[float, numeric(False, 1)] = 1.0
    jitter: Annotated[float, numeric(False, 0, 1)] = 0.0


class FreshnessSpec(Section):
    """``freshness = { max_lag = "26h" }``: how old the latest materialization may get."""

    max_lag: Duration


class AssetSection(Section):
    """``[assets.NAME]``: a SQL asset (with ``sql``) or overrides of a Python asset.

    Every field defaults to ``None`` so that "not given" differs from any value.
    """

    sql: Text | None = None
    partitions: PartitionsSpec | None = None
    deps: list[str] | dict[str, MappingSpec] | None = None
    code_version: Text | None = None
    retries: RetrySpec | None = None
    timeout: Duration | None = None
    pool: Text | None = None
    tags: dict[str, str] | None = None
    group: Text | None = None
    owners: list[Text] | None = None
    description: str | None = None
    io: Literal["duckdb", "parquet", "none"] | None = None
    schedule: Cron | None = None
    freshness: FreshnessSpec | None = None
    automation: Literal["eager"] | None = None
    checks: list[Text] | None = None
    external: list[ExternalTable] | None = None

    @field_validator("deps", mode="plain")
    @classmethod
    def _deps(cls, value: object) -> list[str] | dict[str, MappingSpec]:
        # Validated by hand: a pydantic union would report every alternative's errors.
        if not isinstance(value, list | dict):
            raise ValueError(f"expected a list of asset names or a table, got {show_value(value)}")
        problems: Problems = []
        for key in value if isinstance(value, dict) else range(len(value)):
            name = key if isinstance(value, dict) else value[key]
            if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
                problems.append(
                    ((key,), f"invalid asset name {show_value(name)} ({ASSET_NAME_RULE})")
                )
        if isinstance(value, list):
            raise_any(problems)
            return list(value)
        mappings: dict[str, MappingSpec] = {}
        for name, spec in value.items():
            try:
                mappings[name] = MappingSpec.model_validate(spec)
            except ValidationError as exc:
                problems.extend(((name, *loc), message) for loc, message in flatten_errors(exc))
        raise_any(problems)
        return mappings

    @model_validator(mode="after")
    def _sql_only(self) -> AssetSection:
        problems: Problems = []
        only = "only allowed on a SQL asset (with sql = ...); a Python asset's"
        if self.sql is None and self.partitions is not None:
            why = "partitions come from its @asset declaration and cannot be overridden here"
            problems.append((("partitions",), f"{only} {why}"))
        if self.sql is None and self.deps is not None:
            problems.append((("deps",), f"{only} dependencies are declared in @asset"))
        if self.sql is None and self.external is not None:
            why = "it names the tables its SQL reads that no asset makes"
            problems.append((("external",), f"only allowed on a SQL asset (with sql = ...): {why}"))
        raise_any(problems)
        return self


class SourceSection(Section):
    """``[sources.NAME]``: files the project reads but never makes (see
    :mod:`assetflow.definitions.sources`).

    ``path`` is relative to the project root, with ``{partition}`` (and each dimension of a
    multi-partitioned source) filled in per partition; a glob may match several files.
    """

    path: Text
    partitions: PartitionsSpec | None = None
    version: Literal["mtime", "content"] = "mtime"
    description: str | None = None
    group: Text | None = None
    tags: dict[str, str] | None = None
    owners: list[Text] | None = None


class DbtSection(Section):
    """``[dbt]``: a dbt project whose models, seeds and snapshots are assets (docs/dbt.md).

    Paths are relative to the project root. Without ``profiles_dir`` assetflow writes the
    profile itself, pointing dbt at the warehouse.
    """

    project_dir: Text
    profiles_dir: Text | None = None
    target: Text | None = None


class ScheduleSection(Section):
    """``[schedules.NAME]``: materialize ``select`` on every tick of ``cron``."""

    cron: Cron
    timezone: Timezone | None = None
    select: Text
    description: str | None = None
    enabled: bool = True


class ProjectConfig(Section, ProjectConfigReads):
    """The whole of ``assets.toml``; ``path`` is the file and ``root`` its folder (see
    :class:`~assetflow.config.section_reads.ProjectConfigReads`)."""

    project: ProjectSection
    storage: StorageSection = Field(default_factory=StorageSection)
    executor: ExecutorSection = Field(default_factory=ExecutorSection)
    pools: dict[Text, Annotated[int, numeric(True, 1)]] = {}
    assets: dict[AssetName, AssetSection] = {}
    sources: dict[AssetName, SourceSection] = {}
    schedules: dict[Text, ScheduleSection] = {}
    alerts: list[AlertSection] = []
    lineage: LineageSection = Field(default_factory=LineageSection)
    dbt: DbtSection | None = None

    # Set by load_config/parse_config; a config built in code belongs to the current folder.
    _path: Path = PrivateAttr(default_factory=lambda: Path.cwd() / CONFIG_FILENAME)

    @field_validator("assets")
    @classmethod
    def _pools_declared(cls, assets: dict[str, AssetSection], info: ValidationInfo) -> Any:
        pools: dict[str, int] | None = info.data.get("pools")
        if pools is None:  # [pools] failed validation itself and has its own error
            return assets
        declared = ", ".join(sorted(pools)) or "none"
        problems: Problems = []
        for name, section in assets.items():
            if section.pool is not None and section.pool not in pools:
                message = f"asset '{name}' uses pool '{section.pool}', which is not declared"
                hint = did_you_mean(section.pool, pools)
                problems.append(
                    ((name, "pool"), f"{message} in [pools] (declared: {declared}){hint}")
                )
        raise_any(problems)
        return assets


# --- Reading and reporting --------------------------------------------------------------------


def parse_config(data: Mapping[str, Any], path: Path) -> ProjectConfig:
    """Validate already-parsed TOML ``data`` as if it were read from ``path``."""
    try:
        config = ProjectConfig.model_validate(dict(data))
    except ValidationError as exc:
        shown = display_path(path)
        lines = dict.fromkeys(  # de-duplicated, in order
            f"{shown}: {render_key_path(loc)}: {message}" if loc else f"{shown}: {message}"
            for loc, message in flatten_errors(exc)
        )
        raise ConfigError("\n".join(lines)) from None
    config._path = Path(path).expanduser().resolve()
    for key, message in storage_clashes(config.storage.resolve(config.root))[:1]:
        raise ConfigError(f"{display_path(path)}: storage.{key}: {message}")
    return config
