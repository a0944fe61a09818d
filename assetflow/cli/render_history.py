"""Rendering of history for the command line: statuses, runs, logs, lineage, backfills.

Each ``*_json`` function defines a documented JSON record (docs/cli.md); each ``render_*`` the
human text of the same data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from assetflow.cli.render import table
from assetflow.planner.status import StatusResult
from assetflow.records import BackfillRecord, MaterializationRecord, RunRecord

STATUS_ORDER = ("failed", "stale", "missing", "running", "fresh")


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# -- status ------------------------------------------------------------------------------------


def render_status_counts(
    records: Sequence[dict[str, Any]], freshness: Mapping[str, str] | None = None
) -> str:
    """``freshness``: per asset, what its FRESHNESS column says (see :func:`status_freshness`);
    without it, only ``overdue``."""
    # `waiting` only exists with sources: its column shows only when something waits.
    order: tuple[str, ...] = STATUS_ORDER
    if any(record["counts"].get("waiting") for record in records):
        order = (*STATUS_ORDER[:3], "waiting", *STATUS_ORDER[3:])
    rows = []
    for record in records:
        c = record["counts"]
        shown = (freshness or {}).get(record["asset"]) or (
            "overdue" if record.get("overdue") else ""
        )
        rows.append(
            [
                record["asset"],
                *(str(c.get(s, 0)) for s in order),
                str(record["partitions"]),
                (record["last_materialized_at"] or "-")[:19].replace("T", " "),
                shown or "-",
            ]
        )
    headers = [
        "ASSET",
        *(s.upper() for s in order),
        "TOTAL",
        "LAST MATERIALIZED (UTC)",
        "FRESHNESS",
    ]
    return table(headers, rows) if rows else "no assets selected"


def status_freshness(
    records: Sequence[dict[str, Any]], policies: Mapping[str, timedelta | None], ranged: bool
) -> dict[str, str]:
    """The FRESHNESS column, worded as on the UI's Assets screen: ``ok (26h)``, ``overdue
    (26h)``, nothing without a policy. A partition range may leave out the partition the
    policy is judged on (the latest due one): then only ``overdue`` is certain, not ``ok``."""
    from assetflow.views.format import freshness_text

    shown = {}
    for record in records:
        overdue = bool(record.get("overdue"))
        text = freshness_text(policies.get(record["asset"]), overdue)
        shown[record["asset"]] = "" if ranged and not overdue else text
    return shown


def render_status_partitions(results: Sequence[StatusResult]) -> str:
    if not results:
        return "no partitions"
    rows = []
    for r in results:
        reasons = "; ".join(reason.detail for reason in r.reasons) or "-"
        rows.append([r.asset, r.partition, r.status.value, reasons])
    return table(["ASSET", "PARTITION", "STATUS", "REASONS"], rows)


# -- runs --------------------------------------------------------------------------------------


def run_json(summary: Any) -> dict[str, Any]:
    """``runs --json`` record: run_id, kind, status, started_at, ended_at, counts, ..."""
    run: RunRecord = summary.run
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "status": run.status.value,
        "selection": run.selection,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "counts": dict(summary.counts),
        "host": run.host,
        "pid": run.pid,
        "backfill_id": run.backfill_id,
    }


def render_runs(summaries: Sequence[Any]) -> str:
    if not summaries:
        return "no runs yet"
    rows = []
    for summary in summaries:
        run: RunRecord = summary.run
        counts = " ".join(f"{k}={v}" for k, v in sorted(summary.counts.items()) if v)
        duration = (run.ended_at - run.started_at).total_seconds() if run.ended_at else None
        rows.append(
            [
                run.run_id,
                run.kind,
                run.status.value,
                _when(run.started_at),
                f"{duration:.1f}s" if duration is not None else "-",
                counts or "-",
                run.selection,
            ]
        )
    return table(["RUN", "KIND", "STATUS", "STARTED", "DURATION", "STEPS", "SELECTION"], rows)


def attempt_json(record: MaterializationRecord) -> dict[str, Any]:
    return {
        "materialization_id": record.id,
        "asset": record.asset,
        "partition": record.partition,
        "attempt": record.attempt,
        "status": record.status.value,
        "started_at": _iso(record.started_at),
        "ended_at": _iso(record.ended_at),
        "duration_s": round(record.duration_s, 4),
        "code_version": record.code_version,
        "data_version": record.data_version,
        "row_count": record.row_count,
        "metadata": dict(record.metadata),
        "error": record.error,
        "traceback": record.traceback,
        "reason": record.reason,
    }


def run_detail_json(run: RunRecord, steps: Sequence[MaterializationRecord]) -> dict[str, Any]:
    """``run show --json``: the run's fields plus every attempt."""
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "status": run.status.value,
        "selection": run.selection,
        "arguments": dict(run.arguments),
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "host": run.host,
        "pid": run.pid,
        "version": run.version,
        "backfill_id": run.backfill_id,
        "attempts": [attempt_json(step) for step in steps],
    }


def render_run(run: RunRecord, steps: Sequence[MaterializationRecord]) -> str:
    lines = [
        f"run {run.run_id}  {run.kind}  {run.status.value}",
        f"  selection: {run.selection}",
        f"  started {_when(run.started_at)}, ended {_when(run.ended_at)}, "
        f"on {run.host} (pid {run.pid}), assetflow {run.version}",
        "",
    ]
    rows = []
    for s in steps:
        detail = s.error or s.reason or (f"{s.row_count} rows" if s.row_count is not None else "")
        rows.append(
            [
                f"{s.asset}[{s.partition}]",
                str(s.attempt),
                s.status.value,
                f"{s.duration_s:.2f}s",
                detail,
            ]
        )
    lines.append(
        table(["STEP", "ATTEMPT", "STATUS", "DURATION", "DETAIL"], rows) if rows else "no steps"
    )
    for s in steps:
        if s.traceback:
            lines += [
                "",
                f"--- {s.asset}[{s.partition}] attempt {s.attempt} ---",
                s.traceback.rstrip(),
            ]
    return "\n".join(lines)


# -- logs --------------------------------------------------------------------------------------


def log_json(row: Any) -> dict[str, Any]:
    """``logs --json`` record."""
    return {
        "run_id": row.run_id,
        "asset": row.asset,
        "partition": row.partition,
        "attempt": row.attempt,
        "created_at": _iso(row.record.created_at),
        "level": row.record.level,
        "logger": row.record.logger,
        "message": row.record.message,
    }


def render_logs(rows: Sequence[Any]) -> str:
    if not rows:
        return "no log records"
    return "\n".join(
        f"{_when(row.record.created_at)} {row.record.level:<7} {row.asset}[{row.partition}] "
        f"(run {row.run_id}, attempt {row.attempt}): {row.record.message}"
        for row in rows
    )


# -- lineage -----------------------------------------------------------------------------------


def render_lineage(document: dict[str, Any]) -> str:
    nodes = {node["materialization_id"]: node for node in document["nodes"]}

    def name(mid: int) -> str:
        node = nodes[mid]
        version = (node["data_version"] or "none")[:8]
        return f"{node['asset']}[{node['partition']}] (m{mid:x}, data {version})"

    root = document["root"]
    lines = [name(root)]
    ups = [e["from"] for e in document["edges"] if e["to"] == root]
    downs = [e["to"] for e in document["edges"] if e["from"] == root]
    lines += [f"  <- {name(mid)}" for mid in ups]
    lines += [f"  -> {name(mid)}" for mid in downs]
    others = len(nodes) - 1 - len(ups) - len(downs)
    if others > 0:
        lines.append(f"  ({others} more further away; see --json)")
    return "\n".join(lines)


# -- backfills ---------------------------------------------------------------------------------


def backfill_json(record: BackfillRecord) -> dict[str, Any]:
    return {
        "backfill_id": record.backfill_id,
        "selection": record.selection,
        "from": record.range_from,
        "to": record.range_to,
        "options": dict(record.options),
        "status": record.status.value,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "total": record.total,
        "done": record.done,
        "run_ids": list(record.run_ids),
    }


def render_backfills(records: Sequence[BackfillRecord]) -> str:
    if not records:
        return "no backfills yet"
    rows = [
        [
            r.backfill_id,
            r.status.value,
            r.selection,
            f"{r.range_from}..{r.range_to}",
            f"{r.done}/{r.total}",
            _when(r.created_at),
        ]
        for r in records
    ]
    return table(["BACKFILL", "STATUS", "SELECTION", "RANGE", "DONE", "CREATED"], rows)


def render_backfill(record: BackfillRecord) -> str:
    return "\n".join(
        [
            f"backfill {record.backfill_id}  {record.status.value}",
            f"  selection: {record.selection}  range: {record.range_from}..{record.range_to}",
            f"  progress: {record.done}/{record.total}",
            f"  runs: {', '.join(record.run_ids) or '-'}",
        ]
    )
