"""The dbt-like selection language.

    customers                 one asset (globs work too: ``orders_*``, ``*`` is every asset)
    +customers  customers+    with all upstream / all downstream assets
    2+customers  customers+1  with upstream / downstream up to that many levels
    tag:domain=sales tag:pii  assets with that tag value / with that tag key
    group:sales               assets of a group
    a b                       union (space-separated terms, or several arguments)
    a,b                       intersection (as in dbt)
    dbt:tag:nightly           dbt's own selection syntax, resolved by dbt over the project's
                              manifest (``dbt:stg_orders+``, ``dbt:path:models/marts``)

``--exclude`` takes the same language and removes its result. An unknown name is an error that
suggests the closest asset names; a glob, tag or group matching nothing is an error too, so a
typo never silently selects nothing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assetflow.errors import AssetflowError, SelectionError, did_you_mean
from assetflow.graph.asset_graph import AssetGraph

_ATOM = re.compile(
    r"^(?:(?P<up_depth>\d*)(?P<up>\+))?(?P<body>[^+]+?)(?:(?P<down>\+)(?P<down_depth>\d*))?$"
)


@dataclass(frozen=True)
class SelectionAtom:
    """One parsed atom: a method (``name``, ``tag``, ``group``) and graph operators."""

    method: str
    value: str
    upstream: bool = False
    upstream_depth: int | None = None
    downstream: bool = False
    downstream_depth: int | None = None


def parse_atom(text: str) -> SelectionAtom:
    """Parse one atom such as ``2+tag:domain=sales+``."""
    match = _ATOM.match(text)
    if not match:
        raise SelectionError(f"cannot parse selection {text!r}")
    body = match.group("body")
    method, value = "name", body
    if ":" in body:
        method, value = body.split(":", 1)
        if method not in ("tag", "group"):
            raise SelectionError(
                f"unknown selection method {method!r} in {text!r} (expected tag: or group:)"
            )
        if not value:
            raise SelectionError(f"selection {text!r} needs a value after '{method}:'")
    up_depth = match.group("up_depth")
    down_depth = match.group("down_depth")
    return SelectionAtom(
        method=method,
        value=value,
        upstream=bool(match.group("up")),
        upstream_depth=int(up_depth) if up_depth else None,
        downstream=bool(match.group("down")),
        downstream_depth=int(down_depth) if down_depth else None,
    )


def _match_method(graph: AssetGraph, atom: SelectionAtom) -> set[str]:
    if atom.method == "tag":
        key, _, wanted = atom.value.partition("=")
        found = {
            name
            for name, definition in graph.assets.items()
            if key in definition.tags and (not wanted or definition.tags[key] == wanted)
        }
        if not found:
            raise SelectionError(f"no asset has the tag {atom.value!r}")
        return found
    if atom.method == "group":
        found = {name for name, d in graph.assets.items() if d.group == atom.value}
        if not found:
            groups = {d.group for d in graph.assets.values()}
            raise SelectionError(
                f"no asset is in group {atom.value!r}" + did_you_mean(atom.value, groups)
            )
        return found
    if any(ch in atom.value for ch in "*?["):
        found = set(fnmatch.filter(graph.assets, atom.value))
        if not found:
            raise SelectionError(f"selection {atom.value!r} matches no asset")
        return found
    if atom.value not in graph:
        raise SelectionError(
            f"unknown asset '{atom.value}'" + did_you_mean(atom.value, graph.assets)
        )
    return {atom.value}


def _resolve_atom(graph: AssetGraph, text: str) -> set[str]:
    atom = parse_atom(text)
    base = _match_method(graph, atom)
    result = set(base)
    for name in base:
        if atom.upstream:
            result |= graph.ancestors(name, atom.upstream_depth)
        if atom.downstream:
            result |= graph.descendants(name, atom.downstream_depth)
    return result


DBT_PREFIX = "dbt:"


def _dbt_selection(graph: AssetGraph, expression: str) -> set[str]:
    """The dbt assets dbt's own selector picks for ``expression`` (``dbt ls``)."""
    project = next((d.dbt.project for d in graph.assets.values() if d.dbt is not None), None)
    if project is None:
        raise SelectionError(f"selection 'dbt:{expression}': the project has no dbt assets")
    if not expression:
        raise SelectionError("selection 'dbt:' needs a dbt selection after the prefix")
    try:
        names = set(project.list_names(expression))
    except AssetflowError as exc:
        raise SelectionError(str(exc)) from None
    return {name for name in names if name in graph and graph[name].dbt is not None}


def _terms(expression: str | Sequence[str] | None, what: str = "selection") -> list[str]:
    """The space-separated terms; ``None`` (nothing given) is none, meaning every asset.

    A selection given but blank (``assetflow backfill "" ...``, an unset shell variable) is an
    error rather than "every asset": it is a slip, and running everything is a costly guess.
    """
    if expression is None:
        return []
    parts = [expression] if isinstance(expression, str) else list(expression)
    if any(not part.strip() for part in parts):
        given = " ".join(repr(part) for part in parts)
        if what == "selection":
            raise SelectionError(f"empty selection {given}: name assets, or '*' for all of them")
        raise SelectionError(f"empty selection {given} for {what}: name assets, or drop {what}")
    return [term for part in parts for term in part.split()]


def resolve(graph: AssetGraph, expression: str | Sequence[str] | None) -> set[str]:
    """The set of asset names an expression selects (all assets for an empty expression)."""
    terms = _terms(expression)
    if not terms:
        return set(graph.assets)
    selected: set[str] = set()
    for term in terms:
        if term.startswith(DBT_PREFIX):
            selected |= _dbt_selection(graph, term.removeprefix(DBT_PREFIX))
            continue
        atoms = [atom for atom in term.split(",")]
        if any(not atom for atom in atoms):
            raise SelectionError(f"cannot parse selection {term!r}")
        found = _resolve_atom(graph, atoms[0])
        for atom in atoms[1:]:
            found &= _resolve_atom(graph, atom)
        selected |= found
    return selected


def select(
    graph: AssetGraph,
    expression: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
) -> list[str]:
    """Asset names selected by ``expression`` minus ``exclude``, in topological order."""
    chosen = resolve(graph, expression)
    if _terms(exclude, "--exclude"):
        chosen -= resolve(graph, exclude)
    return [name for name in graph.topological_order() if name in chosen]
