"""Rendering for the command line: plain-text tables and graph formats.

Plain string building (no rich) keeps start-up light; every function takes data and returns text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from assetflow.graph.asset_graph import AssetGraph
from assetflow.partitions.core import PartitionsDefinition, TimeWindowPartitions

if TYPE_CHECKING:
    from assetflow.planner.plan import Plan, PlanStep


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *map(list, rows)]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def describe_partitions(description: Mapping[str, Any]) -> str:
    """A short human form of a ``partitions`` record from ``list --json``."""
    kind = description.get("kind")
    if kind == "none":
        return "-"
    count = description.get("count")
    if kind == "static":
        keys = description.get("keys") or []
        return f"static [{', '.join(map(str, keys))}]"
    if kind == "multi":
        dims = description.get("dimensions") or {}
        inner = " × ".join(f"{n}: {describe_partitions(d)}" for n, d in dims.items())
        return f"multi {inner} ({count})"
    return f"{kind} from {description.get('start')} ({count}, {description.get('timezone')})"


def render_asset_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The human form of ``assetflow list``."""
    if not records:
        return "no assets selected"
    rows = []
    for record in records:
        tags = ", ".join(f"{k}={v}" for k, v in record["tags"].items())
        rows.append(
            [
                record["asset"],
                record["kind"],
                describe_partitions(record["partitions"]),
                ", ".join(record["deps"]) or "-",
                record["group"],
                tags or "-",
                record["schedule"] or ", ".join(record.get("schedules") or []) or "-",
            ]
        )
    headers = ["ASSET", "KIND", "PARTITIONS", "DEPS", "GROUP", "TAGS", "SCHEDULE"]
    return table(headers, rows) + f"\n\n{len(records)} asset(s)"


def _partition_label(graph: AssetGraph, name: str) -> str:
    definition = graph[name].partitions
    return definition.kind if definition.kind != "none" else "unpartitioned"


def _edge_label(graph: AssetGraph, downstream: str, upstream: str) -> str:
    """The mapping of an edge, when it is not the obvious default."""
    dep = graph[downstream].dep(upstream)
    return dep.mapping.describe() if dep is not None and dep.mapping is not None else ""


# Words a Mermaid flowchart reads as syntax; an asset named like this gets a suffixed node id.
_MERMAID_RESERVED = frozenset(
    {
        "end",
        "graph",
        "subgraph",
        "flowchart",
        "style",
        "class",
        "classdef",
        "click",
        "linkstyle",
        "direction",
        "default",
        "call",
        "href",
    }
)


def _mermaid_ids(names: Sequence[str]) -> dict[str, str]:
    """Node ids: the asset name, suffixed with ``_`` until it is neither reserved nor taken."""
    taken = set(names)
    ids: dict[str, str] = {}
    for name in names:
        candidate = name
        while candidate.lower() in _MERMAID_RESERVED or (candidate != name and candidate in taken):
            candidate += "_"
        taken.add(candidate)
        ids[name] = candidate
    return ids


def render_graph(graph: AssetGraph, names: Sequence[str], fmt: str) -> str:
    """The selected part of the graph as ``mermaid``, ``dot`` or ``text``."""
    chosen = set(names)
    edges = [(u, d) for u, d in graph.edges() if u in chosen and d in chosen]
    if fmt == "mermaid":
        lines = ["flowchart LR"]
        ids = _mermaid_ids(names)
        # Sources (observed, never made) are drawn as cylinders, assets as boxes.
        shapes = {True: ('[("', '")]'), False: ('["', '"]')}
        for n in names:
            left, right = shapes[graph[n].is_source]
            label = f"{n}<br/><small>{_partition_label(graph, n)}</small>"
            lines.append(f"    {ids[n]}{left}{label}{right}")
        for upstream, downstream in edges:
            label = _edge_label(graph, downstream, upstream)
            arrow = f'-- "{label}" -->' if label else "-->"
            lines.append(f"    {ids[upstream]} {arrow} {ids[downstream]}")
        return "\n".join(lines)
    if fmt == "dot":
        lines = ["digraph assets {", "  rankdir=LR;", "  node [shape=box];"]
        for n in names:
            shape = ", shape=cylinder" if graph[n].is_source else ""
            lines.append(f'  "{n}" [label="{n}\\n{_partition_label(graph, n)}"{shape}];')
        for upstream, downstream in edges:
            label = _edge_label(graph, downstream, upstream)
            attributes = f' [label="{label}"]' if label else ""
            lines.append(f'  "{upstream}" -> "{downstream}"{attributes};')
        lines.append("}")
        return "\n".join(lines)
    lines = []
    for name in names:
        ups = [u for u, d in edges if d == name]
        described = [f"{u} ({label})" if (label := _edge_label(graph, name, u)) else u for u in ups]
        suffix = f"  <- {', '.join(described)}" if described else ""
        kind = " (source)" if graph[name].is_source else ""
        lines.append(f"{name}{kind} [{_partition_label(graph, name)}]{suffix}")
    return "\n".join(lines) if lines else "no assets selected"


def partition_records(
    definition: PartitionsDefinition, keys: Sequence[str]
) -> list[dict[str, Any]]:
    """``partitions --json`` records: key, and the window of time partitions."""
    records: list[dict[str, Any]] = []
    for key in keys:
        record: dict[str, Any] = {"partition": key}
        if isinstance(definition, TimeWindowPartitions):
            start, end = definition.time_window(key)
            record["start"] = start.isoformat()
            record["end"] = end.isoformat()
        records.append(record)
    return records


def render_partitions(records: Sequence[Mapping[str, Any]]) -> str:
    """The human form of ``assetflow partitions``."""
    if not records:
        return "no partitions"
    if "start" in records[0]:
        rows = [[r["partition"], r["start"], r["end"]] for r in records]
        return table(["PARTITION", "START", "END"], rows) + f"\n\n{len(records)} partition(s)"
    return "\n".join(r["partition"] for r in records) + f"\n\n{len(records)} partition(s)"


def render_plan_summary(plan: Plan) -> str:
    """The human form of ``assetflow plan``: one line per asset (in order of its first step)
    with its step count, first and last partition and the count of each first reason; an asset
    with one step shows that step's reason. Partitions waiting for source data follow, summed
    up the same way. ``plan --all`` prints :meth:`Plan.explain`."""
    if not plan.steps and not plan.waiting:
        return plan.explain()
    lines, folded = _summary_lines(plan.steps, "step(s)", "step(s)")
    if not plan.steps:
        lines = ["nothing to do now: every selected partition is fresh or waiting"]
    waiting, folded_waiting = _summary_lines(
        plan.waiting, "partition(s) waiting for source data (not run)", "partition(s)"
    )
    lines += waiting
    if folded or folded_waiting:
        lines.append("(`plan --all` lists every step)")
    return "\n".join(lines)


def _summary_lines(steps: Sequence[PlanStep], title: str, unit: str) -> tuple[list[str], bool]:
    """Per-asset summary lines of ``steps``, and whether some steps were folded together."""
    if not steps:
        return [], False
    from assetflow.planner.steps import summarize  # by asset, step ranges counted not listed

    rows = []
    for summary in summarize(steps):
        first, last = summary.first, summary.last
        if summary.count == 1:
            reason = first.reasons[0].detail if first.reasons else ""
            more = f" (+{len(first.reasons) - 1} more)" if len(first.reasons) > 1 else ""
            rows.append(
                (summary.asset, 1, first.partition, f"{first.status.value}: {reason}{more}")
            )
            continue
        kinds = summary.kinds
        counted = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=_by_count))
        rows.append(
            (summary.asset, summary.count, f"{first.partition} … {last.partition}", counted)
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    lines = [f"{len(steps)} {title} in {len(rows)} asset(s):"]
    for asset, count, keys, reasons in rows:
        lines.append(
            f"  {asset:<{widths[0]}}  {count:>{widths[1]}} {unit}  {keys:<{widths[2]}}  {reasons}"
        )
    return lines, len(steps) > len(rows)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]
