"""A dbt project's manifest read into assetflow definitions.

The manifest comes from ``dbt parse`` run in-process, and what assetflow needs of it is kept
under the state folder (``.assetflow/dbt/nodes-<hash>.json``), keyed by the content of the dbt
project's files and profile: a project loads without dbt (without even importing it) until
one of its files changes.

Every model, seed and snapshot becomes an asset (kind ``dbt``) whose code version is the
manifest's checksum of its file; upstreams come from ``ref`` and ``source``. A dbt source
whose table is named like an assetflow asset or source (or names one with ``meta: {assetflow:
{asset: NAME}}``) links to it. Each dbt test becomes a check on the node it is attached to
(``severity: error`` blocking); a test that also reads other nodes (``relationships``) makes
its node depend on them too, so that it runs after them as in ``dbt build``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assetflow.definitions.assets import AssetDef, AssetDep
from assetflow.definitions.checks import CheckDef
from assetflow.definitions.dbt_nodes import ASSET_RESOURCE_TYPES, DbtNode, DbtTest
from assetflow.errors import DefinitionError
from assetflow.integrations.dbt.project import DbtProject, require_dbt
from assetflow.partitions.base import PartitionsDefinition
from assetflow.partitions.calendar import DailyPartitions, MonthlyPartitions, WeeklyPartitions
from assetflow.partitions.core import UNPARTITIONED
from assetflow.partitions.hourly import HourlyPartitions

_SKIPPED_FOLDERS = {"target", "logs", "__pycache__"}
_TIME_KINDS: dict[str, type[Any]] = {
    "hourly": HourlyPartitions,
    "daily": DailyPartitions,
    "weekly": WeeklyPartitions,
    "monthly": MonthlyPartitions,
}


@dataclass(frozen=True)
class DbtDefinitions:
    """The assets and checks a dbt project declares."""

    project: DbtProject
    assets: tuple[AssetDef, ...]
    checks: tuple[CheckDef, ...]


def load_dbt_definitions(project: DbtProject, known: Collection[str]) -> DbtDefinitions:
    """The dbt project's assets and checks; ``known`` are the project's other definitions
    (Python and SQL assets, sources), which dbt sources may name."""
    require_dbt("assets.toml [dbt]")
    if not (project.project_dir / "dbt_project.yml").is_file():
        raise DefinitionError(
            f"assets.toml: dbt.project_dir: no dbt_project.yml in {project.project_dir}"
        )
    project = replace(project, content_key=content_hash(project))
    slim = _cached_nodes(project)
    return _definitions(project, slim, known)


# --- The manifest, parsed once per content ----------------------------------------------------


def content_hash(project: DbtProject) -> str:
    """A hash of everything the manifest depends on: the project's files, the profile, the
    target and the installed dbt."""
    digest = hashlib.sha256()
    for path in _project_files(project.project_dir):
        digest.update(str(path.relative_to(project.project_dir)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    if project.profiles_dir is not None:
        profiles = project.profiles_dir / "profiles.yml"
        digest.update(profiles.read_bytes() if profiles.is_file() else b"-")
    else:  # the generated profile: only the warehouse's name reaches the manifest
        digest.update(f"{project.profile_name()}|{project.warehouse.name}".encode())
    digest.update(f"{project.target}|{importlib.metadata.version('dbt-core')}".encode())
    return digest.hexdigest()[:24]


def _project_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p in _SKIPPED_FOLDERS for p in parts[:-1] or parts):
            continue
        if path.is_file() and not path.name.startswith("."):
            yield path


def _cached_nodes(project: DbtProject) -> dict[str, Any]:
    key = project.content_key
    cache = project.work_dir / f"nodes-{key}.json"
    try:
        cached: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8"))
        return cached
    except (OSError, ValueError):
        pass
    slim = slim_manifest(project.parse())
    project.work_dir.mkdir(parents=True, exist_ok=True)
    for old in project.work_dir.glob("nodes-*.json"):
        old.unlink(missing_ok=True)
    temporary = cache.with_suffix(".tmp")
    temporary.write_text(json.dumps(slim), encoding="utf-8")
    temporary.replace(cache)
    return slim


def slim_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What assetflow keeps of a ``manifest.json``: nodes, sources and tests, trimmed."""
    nodes: dict[str, Any] = {}
    tests: list[dict[str, Any]] = []
    for uid, node in manifest.get("nodes", {}).items():
        config = node.get("config") or {}
        kind = node.get("resource_type")
        parents = list(dict.fromkeys((node.get("depends_on") or {}).get("nodes") or []))
        if kind == "test":
            tests.append(
                {
                    "unique_id": uid,
                    "name": node.get("name", uid),
                    "attached": node.get("attached_node"),
                    "parents": parents,
                    "severity": str(config.get("severity") or "error").lower(),
                    "description": node.get("description") or "",
                }
            )
        elif kind in ASSET_RESOURCE_TYPES:
            nodes[uid] = {
                "name": node["name"],
                "resource_type": kind,
                "database": node.get("database") or "",
                "schema": node.get("schema") or "main",
                "identifier": node.get("alias") or node.get("identifier") or node["name"],
                "checksum": (node.get("checksum") or {}).get("checksum", ""),
                "materialized": config.get("materialized") or kind,
                "description": node.get("description") or "",
                "tags": list(node.get("tags") or []),
                "group": node.get("group"),
                "meta": (config.get("meta") or node.get("meta") or {}).get("assetflow") or {},
                "parents": parents,
            }
    sources = {
        uid: {
            "name": source.get("name"),
            "identifier": source.get("identifier"),
            "asset": ((source.get("meta") or {}).get("assetflow") or {}).get("asset"),
        }
        for uid, source in manifest.get("sources", {}).items()
    }
    return {"nodes": nodes, "sources": sources, "tests": tests}


# --- Definitions ------------------------------------------------------------------------------


def _definitions(
    project: DbtProject, slim: Mapping[str, Any], known: Collection[str]
) -> DbtDefinitions:
    nodes: dict[str, Any] = slim["nodes"]
    sources: dict[str, Any] = slim["sources"]
    tests = _tests(slim["tests"], nodes)
    by_node: dict[str, list[DbtTest]] = {}
    for test in tests:
        by_node.setdefault(test[0], []).append(test[1])
    _check_database(project, nodes)
    assets: list[AssetDef] = []
    for uid, node in nodes.items():
        if node["materialized"] == "ephemeral":
            continue  # no relation: its readers depend on what it reads
        deps = _upstream(uid, nodes, sources, known)
        attached = by_node.get(uid, [])
        for extra in _test_parents(uid, attached, slim["tests"], nodes):
            if extra not in deps and extra != node["name"]:
                deps.append(extra)
        meta = node["meta"]
        assets.append(
            AssetDef(
                name=node["name"],
                partitions=_partitions(node["name"], meta) or UNPARTITIONED,
                deps=tuple(AssetDep(name, None, passed=False) for name in deps),
                code_version=f"dbt:{node['checksum'][:16]}",
                tags={tag: "" for tag in node["tags"]},
                group=str(meta.get("group") or node["group"] or "dbt"),
                description=node["description"],
                io="dbt",
                source=f"dbt {uid}",
                dbt=DbtNode(
                    unique_id=uid,
                    resource_type=node["resource_type"],
                    name=node["name"],
                    database=node["database"],
                    schema=node["schema"],
                    identifier=node["identifier"],
                    checksum=node["checksum"],
                    materialized=node["materialized"],
                    tests=tuple(t.unique_id for t in attached),
                    project=project,
                ),
            )
        )
    checks = tuple(
        CheckDef(
            name=test.name,
            asset=test.asset,
            blocking=test.severity == "error",
            description=test.description or f"dbt test {test.name} ({test.severity})",
            dbt_test=test.unique_id,
        )
        for owner, test in tests
        if nodes[owner]["materialized"] != "ephemeral"
    )
    return DbtDefinitions(project, tuple(assets), checks)


def _upstream(
    uid: str, nodes: Mapping[str, Any], sources: Mapping[str, Any], known: Collection[str]
) -> list[str]:
    """The asset names a node reads: refs (through ephemeral models) and linked sources."""
    found: list[str] = []
    for parent in nodes[uid]["parents"]:
        if parent in nodes:
            if nodes[parent]["materialized"] == "ephemeral":
                found.extend(_upstream(parent, nodes, sources, known))
            else:
                found.append(nodes[parent]["name"])
        elif parent in sources:
            linked = _linked_source(sources[parent], known)
            if linked is not None:
                found.append(linked)
    return list(dict.fromkeys(found))


def _linked_source(source: Mapping[str, Any], known: Collection[str]) -> str | None:
    for candidate in (source.get("asset"), source.get("name"), source.get("identifier")):
        if candidate and candidate in known:
            return str(candidate)
    return None


def _tests(raw: list[dict[str, Any]], nodes: Mapping[str, Any]) -> list[tuple[str, DbtTest]]:
    """(node id, test) for each test attached to one model, seed or snapshot."""
    found: list[tuple[str, DbtTest]] = []
    for test in raw:
        owner = test["attached"]
        if owner not in nodes:
            parents = [p for p in test["parents"] if p in nodes]
            owner = parents[0] if len(parents) == 1 else None
        if owner is None:
            continue  # a source test, or a singular test over several nodes
        severity = "warn" if test["severity"] == "warn" else "error"
        found.append(
            (
                owner,
                DbtTest(
                    test["unique_id"],
                    test["name"],
                    nodes[owner]["name"],
                    severity,
                    test["description"],
                ),
            )
        )
    return found


def _test_parents(
    uid: str, attached: list[DbtTest], raw: list[dict[str, Any]], nodes: Mapping[str, Any]
) -> list[str]:
    """Other nodes the tests on ``uid`` read (a relationships test's ``to``), unless they
    are downstream of ``uid`` (that would be a cycle)."""
    wanted = {t.unique_id for t in attached}
    downstream = _descendants(uid, nodes)
    extra: list[str] = []
    for test in raw:
        if test["unique_id"] not in wanted:
            continue
        for parent in test["parents"]:
            usable = parent in nodes and nodes[parent]["materialized"] != "ephemeral"
            if usable and parent != uid and parent not in downstream:
                extra.append(nodes[parent]["name"])
    return extra


def _descendants(uid: str, nodes: Mapping[str, Any]) -> set[str]:
    children: dict[str, set[str]] = {}
    for child, node in nodes.items():
        for parent in node["parents"]:
            children.setdefault(parent, set()).add(child)
    seen: set[str] = set()
    stack = [uid]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def _partitions(name: str, meta: Mapping[str, Any]) -> PartitionsDefinition | None:
    """The partitions ``meta: {assetflow: {partitions: daily, start: ...}}`` declares."""
    kind = meta.get("partitions")
    if kind is None:
        return None
    where = f"dbt model '{name}': meta.assetflow"
    if kind not in _TIME_KINDS:
        raise DefinitionError(
            f"{where}.partitions: expected one of {', '.join(_TIME_KINDS)}, got {kind!r}"
        )
    if "start" not in meta:
        raise DefinitionError(f"{where}: partitions = {kind!r} needs a start")
    try:
        created: PartitionsDefinition = _TIME_KINDS[kind](
            start=str(meta["start"]),
            end=None if meta.get("end") is None else str(meta["end"]),
            timezone=meta.get("timezone"),
        )
    except DefinitionError as exc:
        raise DefinitionError(f"{where}: {exc}") from None
    return created


def _check_database(project: DbtProject, nodes: Mapping[str, Any]) -> None:
    """The profile must build into the warehouse: dbt-duckdb names the database after the file."""
    expected = project.warehouse.stem
    for node in nodes.values():
        if node["materialized"] != "ephemeral" and node["database"] not in ("", expected):
            raise DefinitionError(
                f"dbt project {project.project_dir}: its profile builds into database "
                f"{node['database']!r}, not the warehouse {project.warehouse.name!r}: point "
                "the profile's path at the warehouse, or drop dbt.profiles_dir to let "
                "assetflow write the profile"
            )
