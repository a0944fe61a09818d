"""Turns a validated ``assets.toml`` into asset definitions.

Imports the project's modules (project root first on ``sys.path``), collects ``@asset`` and
``@check`` functions, adds the SQL assets declared in TOML, merges per-asset overrides, and
fills in project defaults (timezone). Everything it returns is inert data; the graph is built
from it by :class:`~assetflow.graph.asset_graph.AssetGraph`.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from assetflow.config.spec_building import mapping_from_spec, partitions_from_spec
from assetflow.definitions.assets import (
    AssetDef,
    AssetDep,
    asset_def_of,
    build_sql_asset,
    check_asset_name,
)
from assetflow.definitions.checks import (
    CheckDef,
    builtin_check_name,
    check_def_of,
    parse_builtin_check,
)
from assetflow.definitions.policies import FreshnessPolicy, RetryPolicy
from assetflow.definitions.versions import sql_template_variables, version_cache
from assetflow.errors import AssetflowError, DefinitionError, GraphError, ProjectLoadError
from assetflow.sql.names import catalog_of
from assetflow.sql.reads import checked_reads, external_names, parse_cache
from assetflow.sql.template import PLACEHOLDER_NAMES, unsupported_templates

if TYPE_CHECKING:
    from assetflow.config.models import AssetSection, ProjectConfig, SourceSection


@dataclass(frozen=True)
class LoadedDefinitions:
    """What a project declares: its assets and checks, before graph validation."""

    assets: tuple[AssetDef, ...]
    checks: tuple[CheckDef, ...]


def load_definitions(config: ProjectConfig) -> LoadedDefinitions:
    """Import the project's modules and collect every asset and check it declares."""
    python_assets: dict[str, AssetDef] = {}
    checks: list[CheckDef] = []
    seen: set[int] = set()
    cache = config.state_path.parent / "code_versions.json"
    with version_cache(cache):
        modules = import_project_modules(config)
    for module in modules:
        for value in list(vars(module).values()):
            if id(value) in seen:
                continue
            definition = asset_def_of(value)
            check_definition = check_def_of(value)
            if definition is None and check_definition is None:
                continue
            seen.add(id(value))
            if check_definition is not None:
                checks.append(check_definition)
            if definition is None:
                continue
            if definition.name in python_assets:
                raise GraphError(
                    f"two assets are named '{definition.name}': "
                    f"{python_assets[definition.name].source} and {definition.source}"
                )
            python_assets[definition.name] = definition

    assets = dict(python_assets)
    for name, source_section in config.sources.items():
        if name in assets:
            raise GraphError(
                f"two definitions are named '{name}': {assets[name].source} and "
                f"the source [sources.{name}] in {config.path.name}"
            )
        assets[name] = _toml_source(name, source_section)
    if config.dbt is not None:  # before [assets.NAME], which may override a dbt asset's options
        from assetflow.config.dbt_loading import add_dbt_definitions

        sql_names = {name for name, section in config.assets.items() if section.sql is not None}
        checks.extend(add_dbt_definitions(config, assets, sql_names))
    for name, section in config.assets.items():
        if name in assets and assets[name].is_source:
            raise DefinitionError(
                f"{config.path.name}: [assets.{name}] overrides a source; a source is observed, "
                "never materialized, so it takes no asset options"
            )
        if section.sql is not None:
            if name in assets:
                raise GraphError(
                    f"two assets are named '{name}': {assets[name].source} and "
                    f"the SQL asset [assets.{name}] in {config.path.name}"
                )
            assets[name] = _sql_asset(name, section)
        elif name in assets:
            if assets[name].dbt is not None and (section.io or section.checks) is not None:
                raise DefinitionError(
                    f"{config.path.name}: [assets.{name}] is a dbt node: dbt stores it, and its "
                    "checks are its dbt tests (io and checks cannot be set here)"
                )
            assets[name] = _apply_overrides(assets[name], section)
        else:
            from assetflow.errors import did_you_mean

            raise DefinitionError(
                f"{config.path.name}: [assets.{name}] overrides an asset that no module "
                f'declares (add sql = "..." to declare a SQL asset)'
                + did_you_mean(name, python_assets)
            )

    found = _sql_table_deps(assets, config)
    timezone = config.project.timezone
    finished: list[AssetDef] = []
    for definition in assets.values():
        if definition.name in found:
            definition = _add_sql_table_deps(definition, found[definition.name])
        definition = definition.replace(
            partitions=definition.partitions.with_default_timezone(timezone)
        )
        _validate_references(definition, config)
        finished.append(definition)
        checks.extend(_builtin_checks(definition))
    return LoadedDefinitions(tuple(finished), tuple(checks))


def import_project_modules(config: ProjectConfig) -> list[ModuleType]:
    """Import ``project.modules`` with the project root first on ``sys.path``.

    Modules another project loaded earlier in this process (tests and notebooks load several)
    are dropped first, so that a module name two projects share (``pipeline``, ``common``)
    resolves to this project's own file.
    """
    root = config.root.resolve()
    _forget_other_projects(root)
    if not sys.path or sys.path[0] != str(root):
        sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    before = set(sys.modules)
    modules = []
    for name in config.project.modules:
        _forget_foreign_module(name, root)
        modules.append(_import(name, config))
    _PROJECT_MODULES.setdefault(root, set()).update(
        name for name in set(sys.modules) - before if _is_project_module(name, root)
    )
    return modules


# For each project root loaded in this process: the modules its loading imported from it.
_PROJECT_MODULES: dict[Path, set[str]] = {}


def _is_project_module(name: str, root: Path) -> bool:
    """A module loaded from the project's own files (not assetflow, not an installed package)."""
    if name == "assetflow" or name.startswith("assetflow."):
        return False
    location = getattr(sys.modules.get(name), "__file__", None)
    if not location or not _is_under(location, root):
        return False
    prefixes = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return not any(_is_under(location, prefix) for prefix in prefixes)


def _forget_other_projects(root: Path) -> None:
    """Drop the modules other projects' loading imported, and their sys.path entries."""
    for other, names in list(_PROJECT_MODULES.items()):
        if other == root:
            continue
        for name in names:
            module = sys.modules.get(name)
            location = getattr(module, "__file__", None)
            if module is not None and not (location and _is_under(location, root)):
                del sys.modules[name]
        del _PROJECT_MODULES[other]
        if other != root and not root.is_relative_to(other):
            sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != other]


def _forget_foreign_module(name: str, root: Path) -> None:
    """Drop ``name`` (and its parents) if an earlier import loaded it from outside ``root``."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        module = sys.modules.get(prefix)
        location = getattr(module, "__file__", None) if module else None
        if location and not _is_under(location, root):
            for loaded in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
                del sys.modules[loaded]


def _import(name: str, config: ProjectConfig) -> ModuleType:
    where = f"{config.path.name} project.modules"
    try:
        return importlib.import_module(name)
    except AssetflowError as exc:
        # A bad declaration at module level: keep its class, add where it was made.
        location = _location(exc, config.root.resolve())
        raise type(exc)(f"module '{name}'{location}: {exc}") from None
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise ProjectLoadError(
                f"module '{name}' (from {where}) was not found under {config.root}"
            ) from None
        raise ProjectLoadError(_describe_import_failure(name, exc, config)) from exc
    except Exception as exc:  # the user's module failed: report its error, briefly
        raise ProjectLoadError(_describe_import_failure(name, exc, config)) from exc


def _describe_import_failure(name: str, exc: BaseException, config: ProjectConfig) -> str:
    # str(SyntaxError) already ends with "(file, line N)"; its .msg is the bare message.
    text = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    location = _location(exc, config.root.resolve())
    return f"failed to import module '{name}': {type(exc).__name__}: {text}{location}"


def _location(exc: BaseException, root: Path) -> str:
    """`` (FILE, line N)`` of the innermost frame inside the project, or ''."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({_relative(exc.filename, root)}, line {exc.lineno})"
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if f.filename and _is_under(f.filename, root)]
    if not inside:
        return ""
    return f" ({_relative(inside[-1].filename, root)}, line {inside[-1].lineno})"


def _is_under(filename: str, root: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(root)
    except OSError:
        return False


def _relative(filename: str, root: Path) -> str:
    path = Path(filename).resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else filename


def _common_options(name: str, section: AssetSection) -> dict[str, Any]:
    """Fields of an [assets.NAME] section that apply to Python and SQL assets alike."""
    options: dict[str, Any] = {}
    if section.retries is not None:
        spec = section.retries
        options["retries"] = RetryPolicy(
            max_retries=spec.max_retries, delay=spec.delay, backoff=spec.backoff, jitter=spec.jitter
        )
    if section.freshness is not None:
        options["freshness"] = FreshnessPolicy(section.freshness.max_lag)
    for field_name in ("timeout", "pool", "group", "description", "io", "schedule", "automation"):
        value = getattr(section, field_name)
        if value is not None:
            options[field_name] = value
    if section.owners is not None:
        options["owners"] = tuple(section.owners)
    return options


SQL_PLACEHOLDERS = PLACEHOLDER_NAMES


def _sql_asset(name: str, section: AssetSection) -> AssetDef:
    assert section.sql is not None
    unknown = [v for v in sql_template_variables(section.sql) if v not in SQL_PLACEHOLDERS]
    available = ", ".join("{{ " + p + " }}" for p in SQL_PLACEHOLDERS)
    if unknown:
        raise DefinitionError(
            f"assets.toml: assets.{name}.sql: unknown placeholder "
            + ", ".join("{{ " + v + " }}" for v in unknown)
            + f" (available: {available})"
        )
    unsupported = unsupported_templates(section.sql)
    if unsupported:
        raise DefinitionError(
            f"assets.toml: assets.{name}.sql: unsupported template syntax {unsupported[0]!r} "
            f"(only {available} and {{{{ ref('NAME') }}}} are replaced)"
        )
    options = _common_options(name, section)
    options["tags"] = dict(section.tags or {})
    options["checks"] = tuple(section.checks or ())
    if section.partitions is not None:
        options["partitions"] = partitions_from_spec(
            section.partitions, f"assets.{name}.partitions"
        )
    deps: list[AssetDep] = []
    if isinstance(section.deps, dict):
        for dep_name, spec in section.deps.items():
            deps.append(
                AssetDep(dep_name, mapping_from_spec(spec, f"assets.{name}.deps.{dep_name}"), True)
            )
    elif section.deps is not None:
        deps = [AssetDep(dep_name, None, True) for dep_name in section.deps]
    for dep in deps:
        check_asset_name(dep.name, f"assets.toml: assets.{name}.deps")
    return build_sql_asset(
        name, section.sql, code_version=section.code_version, deps=tuple(deps), **options
    )


def _sql_table_deps(assets: dict[str, AssetDef], config: ProjectConfig) -> dict[str, list[str]]:
    """For each SQL asset, the definitions its query reads (DuckDB's parser finds them).

    Refuses SQL that does not parse and tables that are neither a definition, nor made by the
    SQL, nor DuckDB's own, nor declared ``external`` (:mod:`assetflow.sql.reads`).
    """
    catalog = catalog_of(config.warehouse_path)
    file = config.path.name
    shared = config.project.external
    project_external = external_names(f"{file}: project.external", shared, assets, catalog)
    found: dict[str, list[str]] = {}
    with parse_cache(config.state_path.parent / "sql_names.json"):
        for name, definition in assets.items():
            if definition.sql is None:
                continue
            section = config.assets.get(name)
            own = list(section.external or []) if section is not None else []
            where = f"{file}: assets.{name}"
            external = external_names(f"{where}.external", own, assets, catalog)
            external = {**project_external, **external}
            found[name] = checked_reads(file, name, definition.sql, assets, catalog, external)
    return found


def _add_sql_table_deps(definition: AssetDef, referenced: list[str]) -> AssetDef:
    """Add the assets a SQL query reads to its explicit deps (after them, in name order)."""
    found = sorted(set(referenced) - set(definition.dep_names) - {definition.name})
    if not found:
        return definition
    return definition.replace(deps=definition.deps + tuple(AssetDep(n) for n in found))


def _toml_source(name: str, section: SourceSection) -> AssetDef:
    from assetflow.definitions.sources import SourceSpec, source_definition

    partitions = None
    if section.partitions is not None:
        partitions = partitions_from_spec(section.partitions, f"sources.{name}.partitions")
    return source_definition(
        name,
        SourceSpec(path=section.path, version=section.version),
        partitions=partitions,
        description=section.description or "",
        group=section.group,
        tags=section.tags,
        owners=section.owners,
    )


def _apply_overrides(definition: AssetDef, section: AssetSection) -> AssetDef:
    options = _common_options(definition.name, section)
    if section.code_version is not None:
        options["code_version"] = section.code_version
        options["code_version_explicit"] = True
    if section.tags is not None:
        options["tags"] = {**definition.tags, **section.tags}
    if section.checks is not None:
        options["checks"] = definition.checks + tuple(section.checks)
    return definition.replace(**options)


def _validate_references(definition: AssetDef, config: ProjectConfig) -> None:
    where = f"asset '{definition.name}'"
    if definition.pool is not None and definition.pool not in config.pools:
        declared = ", ".join(sorted(config.pools)) or "none"
        raise DefinitionError(
            f"{where}: pool '{definition.pool}' is not declared in [pools] of "
            f"{config.path.name} (declared: {declared})"
        )
    if definition.schedule is not None:
        from assetflow.config.fields import validate_cron

        try:
            validate_cron(definition.schedule)
        except ValueError as exc:
            raise DefinitionError(f"{where}: schedule: {exc}") from None


def _builtin_checks(definition: AssetDef) -> list[CheckDef]:
    result: list[CheckDef] = []
    taken: set[str] = set()
    for text in definition.checks:
        parsed = parse_builtin_check(text, definition.name)
        name = base = builtin_check_name(parsed)
        suffix = 2
        while name in taken:  # row_count(min=1) and row_count(max=9) both read "row_count"
            name, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(name)
        result.append(CheckDef(name=name, asset=definition.name, builtin=parsed))
    return result
