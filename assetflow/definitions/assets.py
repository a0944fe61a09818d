"""`@asset` and `AssetDef`: inert declarations of data assets.

The decorator does nothing but attach an :class:`AssetDef` to the function (no registry, nothing
runs at import time); the loader finds decorated functions in the project's modules later. The
function itself is returned unchanged, so it stays callable in unit tests.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from assetflow.definitions.durations import parse_duration
from assetflow.definitions.policies import FreshnessPolicy, RetryPolicy
from assetflow.definitions.versions import function_code_version, sql_code_version
from assetflow.errors import DefinitionError
from assetflow.mappings.core import PartitionMapping
from assetflow.partitions.core import UNPARTITIONED, PartitionsDefinition

if TYPE_CHECKING:
    from assetflow.definitions.dbt_nodes import DbtNode
    from assetflow.definitions.sources import SourceSpec

ASSET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ATTRIBUTE = "__assetflow_asset__"
CONTEXT_PARAMETER = "context"
# "dbt": the relation dbt builds in the warehouse (only dbt assets have it).
IOKind = Literal["duckdb", "parquet", "none", "dbt"]
IO_KINDS: tuple[str, ...] = ("duckdb", "parquet", "none")  # what users may choose

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AssetDep:
    """One upstream dependency of an asset.

    ``mapping`` is ``None`` for the default mapping of the two partition definitions; ``passed``
    says whether the upstream data is handed to the function as a parameter.
    """

    name: str
    mapping: PartitionMapping | None = None
    passed: bool = True


@dataclass(frozen=True)
class AssetDef:
    """Everything assetflow knows about one asset, as plain frozen data."""

    name: str
    fn: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    sql: str | None = None
    partitions: PartitionsDefinition = UNPARTITIONED
    deps: tuple[AssetDep, ...] = ()
    code_version: str = ""
    code_version_explicit: bool = False
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: timedelta | None = None
    pool: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    group: str = "default"
    owners: tuple[str, ...] = ()
    description: str = ""
    io: IOKind = "duckdb"
    schedule: str | None = None
    freshness: FreshnessPolicy | None = None
    automation: Literal["eager"] | None = None
    checks: tuple[str, ...] = ()
    source: str = ""  # where it was declared: ``module.function`` or ``assets.toml``
    # How a source is observed (see assetflow.definitions.sources); None for an asset that
    # assetflow makes.
    observed: SourceSpec | None = field(default=None, compare=False)
    # The dbt model, seed or snapshot this asset is (assetflow.integrations.dbt); None otherwise.
    dbt: DbtNode | None = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        """``"python"``, ``"sql"``, ``"source"`` or ``"dbt"``."""
        if self.observed is not None:
            return "source"
        if self.dbt is not None:
            return "dbt"
        return "sql" if self.sql is not None else "python"

    @property
    def is_source(self) -> bool:
        """Whether this is a source: observed, never materialized."""
        return self.observed is not None

    @property
    def is_partitioned(self) -> bool:
        return self.partitions is not UNPARTITIONED and self.partitions.kind != "none"

    @property
    def dep_names(self) -> tuple[str, ...]:
        return tuple(dep.name for dep in self.deps)

    def dep(self, name: str) -> AssetDep | None:
        """The dependency on ``name``, if any."""
        for dep in self.deps:
            if dep.name == name:
                return dep
        return None

    def replace(self, **changes: Any) -> AssetDef:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


DepsArg = Sequence[str] | Mapping[str, PartitionMapping | None] | None


def normalize_deps(
    asset_name: str, parameters: Sequence[str], deps: DepsArg
) -> tuple[AssetDep, ...]:
    """Merge dependencies from parameter names and from ``deps`` (names or ``{name: mapping}``).

    A name both passed as a parameter and listed in ``deps`` is one dependency: passed, with the
    mapping ``deps`` gives it.
    """
    mappings: dict[str, PartitionMapping | None] = {}
    if deps is None:
        pass
    elif isinstance(deps, str):
        raise DefinitionError(
            f"asset '{asset_name}': deps must be a list of names or a dict, "
            f"not the string {deps!r} (did you mean deps=[{deps!r}]?)"
        )
    elif isinstance(deps, Mapping):
        for name, mapping in deps.items():
            if mapping is not None and not isinstance(mapping, PartitionMapping):
                raise DefinitionError(
                    f"asset '{asset_name}': deps['{name}'] must be a partition mapping "
                    f"(e.g. TimeWindowMapping(...)), got {type(mapping).__name__}"
                )
            mappings[str(name)] = mapping
    else:
        for name in deps:
            if not isinstance(name, str):
                raise DefinitionError(
                    f"asset '{asset_name}': deps must hold asset names, got {name!r}"
                )
            mappings[name] = None
    result: list[AssetDep] = []
    for name in parameters:
        result.append(AssetDep(name, mappings.pop(name, None), passed=True))
    for name, mapping in mappings.items():
        result.append(AssetDep(name, mapping, passed=False))
    for dep in result:
        if not ASSET_NAME_RE.match(dep.name):
            raise DefinitionError(
                f"asset '{asset_name}': dependency {dep.name!r} is not a valid asset name"
            )
    return tuple(result)


def function_parameters(fn: Callable[..., Any]) -> list[str]:
    """The names of ``fn``'s upstream parameters: every parameter except ``context``."""
    names: list[str] = []
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise DefinitionError(
                f"asset '{fn.__name__}': *args and **kwargs are not supported; "
                "name each upstream asset as a parameter"
            )
        if parameter.name != CONTEXT_PARAMETER:
            names.append(parameter.name)
    return names


def check_asset_name(name: str, where: str) -> None:
    """Raise a DefinitionError unless ``name`` is a valid asset identifier."""
    if not ASSET_NAME_RE.match(name):
        raise DefinitionError(
            f"{where}: {name!r} is not a valid asset name "
            "(letters, digits and underscores, not starting with a digit)"
        )


def _timeout(value: str | float | timedelta | None, asset_name: str) -> timedelta | None:
    if value is None:
        return None
    try:
        result = parse_duration(value)
    except ValueError as exc:
        raise DefinitionError(f"asset '{asset_name}': timeout: {exc}") from None
    if result <= timedelta(0):
        raise DefinitionError(f"asset '{asset_name}': timeout must be positive, got {value!r}")
    return result


def _freshness(
    value: FreshnessPolicy | Mapping[str, Any] | None, asset_name: str
) -> FreshnessPolicy | None:
    if value is None or isinstance(value, FreshnessPolicy):
        return value
    if not isinstance(value, Mapping) or set(value) != {"max_lag"}:
        raise DefinitionError(
            f"asset '{asset_name}': freshness must be {{'max_lag': '26h'}}, got {value!r}"
        )
    try:
        return FreshnessPolicy(parse_duration(value["max_lag"]))
    except ValueError as exc:
        raise DefinitionError(f"asset '{asset_name}': freshness.max_lag: {exc}") from None


def build_asset(fn: Callable[..., Any], **options: Any) -> AssetDef:
    """Build the AssetDef of a decorated function (the decorator's work, minus attaching it)."""
    name = options.pop("name", None) or fn.__name__
    check_asset_name(name, f"@asset on {fn.__module__}.{fn.__qualname__}")
    explicit_version = options.pop("code_version", None)
    io = options.pop("io", "duckdb")
    if io not in IO_KINDS:
        raise DefinitionError(
            f"asset '{name}': io must be one of {', '.join(IO_KINDS)}, got {io!r}"
        )
    automation = options.pop("automation", None)
    if automation not in (None, "eager"):
        raise DefinitionError(f"asset '{name}': automation must be 'eager' or None")
    partitions = options.pop("partitions", None) or UNPARTITIONED
    if not isinstance(partitions, PartitionsDefinition):
        raise DefinitionError(
            f"asset '{name}': partitions must be a partitions definition such as "
            f"DailyPartitions(start=...), got {type(partitions).__name__}"
        )
    retries = options.pop("retries", None) or RetryPolicy()
    if not isinstance(retries, RetryPolicy):
        raise DefinitionError(f"asset '{name}': retries must be a RetryPolicy")
    return AssetDef(
        name=name,
        fn=fn,
        partitions=partitions,
        deps=normalize_deps(name, function_parameters(fn), options.pop("deps", None)),
        code_version=explicit_version or function_code_version(fn),
        code_version_explicit=explicit_version is not None,
        retries=retries,
        timeout=_timeout(options.pop("timeout", None), name),
        pool=options.pop("pool", None),
        tags=dict(options.pop("tags", None) or {}),
        group=options.pop("group", None) or "default",
        owners=tuple(options.pop("owners", None) or ()),
        description=options.pop("description", None) or inspect.cleandoc(fn.__doc__ or ""),
        io=io,
        schedule=options.pop("schedule", None),
        freshness=_freshness(options.pop("freshness", None), name),
        automation=automation,
        checks=tuple(options.pop("checks", None) or ()),
        source=f"{fn.__module__}.{fn.__qualname__}",
    )


def build_sql_asset(name: str, sql: str, **options: Any) -> AssetDef:
    """Build the AssetDef of an asset declared in SQL (in assets.toml)."""
    check_asset_name(name, "assets.toml")
    explicit_version = options.pop("code_version", None)
    return AssetDef(
        name=name,
        sql=sql,
        code_version=explicit_version or sql_code_version(sql),
        code_version_explicit=explicit_version is not None,
        source="assets.toml",
        **options,
    )


@overload
def asset(fn: F, /) -> F: ...


@overload
def asset(
    *,
    name: str | None = None,
    partitions: PartitionsDefinition | None = None,
    deps: DepsArg = None,
    code_version: str | None = None,
    retries: RetryPolicy | None = None,
    timeout: str | float | timedelta | None = None,
    pool: str | None = None,
    tags: Mapping[str, str] | None = None,
    group: str | None = None,
    owners: Sequence[str] | None = None,
    description: str | None = None,
    io: IOKind = "duckdb",
    schedule: str | None = None,
    freshness: FreshnessPolicy | Mapping[str, Any] | None = None,
    automation: Literal["eager"] | None = None,
    checks: Sequence[str] | None = None,
) -> Callable[[F], F]: ...


def asset(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Declare a data asset produced by the decorated function.

    Works bare (``@asset``) and with arguments (``@asset(partitions=DailyPartitions(...))``).
    Upstream assets are the function's parameter names (except ``context``) plus ``deps``
    (names, or ``{name: mapping}``). The function is returned unchanged, so it stays callable
    in unit tests; the declaration is attached to it and read by the project loader.

    Options: ``name``, ``partitions``, ``deps``, ``code_version``, ``retries``
    (:class:`RetryPolicy`), ``timeout`` (``"10m"`` or seconds), ``pool``, ``tags``, ``group``,
    ``owners``, ``description`` (default: the docstring), ``io`` (``"duckdb"``, ``"parquet"``,
    ``"none"``), ``schedule`` (cron), ``freshness`` (``{"max_lag": "26h"}``), ``automation``
    (``"eager"``), ``checks`` (built-in check expressions such as ``"not_null(order_id)"``).
    """
    unknown = set(options) - _ASSET_OPTIONS
    if unknown:
        raise DefinitionError(
            f"@asset got unknown argument(s): {', '.join(sorted(unknown))} "
            f"(expected: {', '.join(sorted(_ASSET_OPTIONS))})"
        )

    def decorate(function: F) -> F:
        if not callable(function):
            raise DefinitionError(f"@asset must decorate a function, got {function!r}")
        setattr(function, ATTRIBUTE, build_asset(function, **dict(options)))
        return function

    if fn is not None:
        if options:
            raise DefinitionError("@asset takes keyword arguments only")
        return decorate(fn)
    return decorate


_ASSET_OPTIONS = frozenset(
    {
        "name",
        "partitions",
        "deps",
        "code_version",
        "retries",
        "timeout",
        "pool",
        "tags",
        "group",
        "owners",
        "description",
        "io",
        "schedule",
        "freshness",
        "automation",
        "checks",
    }
)


def asset_def_of(obj: object) -> AssetDef | None:
    """The AssetDef attached to a decorated function, or None."""
    found = getattr(obj, ATTRIBUTE, None)
    return found if isinstance(found, AssetDef) else None
