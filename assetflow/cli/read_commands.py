"""The read commands' bodies: ``list``, ``status``, ``why``, ``runs`` and ``plan``.

Plain functions of parsed values, without Typer: the Typer commands call them, and so does the
short path of :mod:`assetflow.cli.short_path`, which parses these commands' usual arguments
without importing Typer (and pydantic through it). Output goes through :func:`echo`, which
writes what ``typer.echo`` writes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from assetflow.application.project import Project

# Click's pattern of ANSI style codes, which ``typer.echo`` strips when stdout is no terminal.
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def echo(text: str) -> None:
    """``typer.echo(text)``: one line on stdout, style codes stripped off a terminal, flushed."""
    out = sys.stdout
    line = text + "\n"
    if "\033" in line and not _terminal(out):
        line = _ANSI.sub("", line)
    out.write(line)
    out.flush()


def _terminal(out: TextIO) -> bool:
    try:
        tty = out.isatty()
    except Exception:
        tty = False
    return tty or type(out).__module__.startswith("ipykernel.")


def print_json(document: Any) -> None:
    from assetflow.cli.streams import document_stream

    document_stream().write(json.dumps(document, indent=2, default=str) + "\n")


def load(project: Path | None) -> Project:
    from assetflow.application.project import Project

    return Project.load(project)


def list_assets(
    project: Path | None, selection: list[str] | None, exclude: list[str] | None, as_json: bool
) -> None:
    from assetflow.cli.render import render_asset_table

    loaded = load(project)
    records = loaded.list_assets(selection, exclude)
    if as_json:
        print_json({"project": loaded.name, "assets": records})
    else:
        echo(render_asset_table(records))


def status(
    project: Path | None,
    selection: list[str] | None,
    exclude: list[str] | None,
    partition: str | None,
    first: str | None,
    last: str | None,
    partitions: bool,
    as_json: bool,
) -> None:
    from assetflow.cli.render_history import (
        render_status_counts,
        render_status_partitions,
        status_freshness,
    )

    loaded = load(project)
    if partitions:
        results = loaded.status(
            selection, exclude=exclude, partition=partition, first=first, last=last
        )
        if as_json:
            print_json({"partitions": [r.to_json() for r in results]})
        else:
            echo(render_status_partitions(results))
        return
    counts = loaded.status_counts(
        selection, exclude=exclude, partition=partition, first=first, last=last
    )
    if as_json:
        print_json({"assets": counts})
        return
    policies = {
        r["asset"]: (policy.max_lag if (policy := loaded.asset(r["asset"]).freshness) else None)
        for r in counts
    }
    ranged = partition is not None or first is not None or last is not None
    echo(render_status_counts(counts, status_freshness(counts, policies, ranged)))
    for record in counts:
        if record.get("check_warnings"):
            echo(
                f"warning: {record['check_warnings']} partition(s) of {record['asset']} "
                f"fail checks (see `assetflow checks {record['asset']}`)"
            )


def why(
    project: Path | None, asset: str, partition: str | None, every_reason: bool, as_json: bool
) -> None:
    from assetflow.planner.explain import render_why

    loaded = load(project)
    links = loaded.why(asset, partition)
    # The chain's first link names the partition as validated (``-`` if unpartitioned).
    key = links[0].node[1] if links else (partition or "-")
    warnings = loaded.check_warnings([asset], key)
    if as_json:
        print_json(
            {
                "chain": [link.to_json() for link in links],
                "check_warnings": [
                    {"check": w.check_name, "metadata": dict(w.metadata), "error": w.error}
                    for w in warnings
                ],
            }
        )
        return
    from assetflow.runner.checking import outcome_of

    echo(render_why(links, every_reason))
    for w in warnings:
        echo(f"warning: check {w.check_name} fails on this data ({outcome_of(w)})")


def runs(
    project: Path | None, asset: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    from assetflow.cli.render_history import render_runs, run_json

    found = load(project).runs(limit=limit, status=status, asset=asset)
    if as_json:
        print_json({"runs": [run_json(run) for run in found]})
    else:
        echo(render_runs(found))


def plan(
    project: Path | None,
    selection: list[str] | None,
    exclude: list[str] | None,
    partition: str | None,
    first: str | None,
    last: str | None,
    only: bool,
    force: bool,
    every_step: bool,
    executor: str | None,
    address: str | None,
    as_json: bool,
) -> None:
    from assetflow.cli.render import render_plan_summary

    loaded = load(project)
    planned = loaded.plan(
        selection,
        exclude=exclude,
        partition=partition,
        first=first,
        last=last,
        only=only,
        force=force,
    )
    where = loaded.placement(planned, executor, address)
    if as_json:
        from assetflow.cli.streams import document_stream
        from assetflow.planner.plan_json import plan_json_chunks

        stream = document_stream()  # in pieces: a million steps are ~200 MB of text
        for chunk in plan_json_chunks(planned, {"runs_on": where}):
            stream.write(chunk)
        return
    echo(planned.explain() if every_step else render_plan_summary(planned))
    elsewhere = sorted({kind for kind in where.values() if kind != "coordinator"})
    kind = loaded.workspace.with_executor(executor, address).config.executor.kind
    if where and not elsewhere and kind != "threads":
        echo(f"runs in this process: every step uses the warehouse (none goes to {kind})")
    if elsewhere:
        here = [asset for asset, kind in where.items() if kind == "coordinator"]
        away = [asset for asset, kind in where.items() if kind != "coordinator"]
        echo(f"runs on {elsewhere[0]}: {', '.join(away)}")
        if here:
            echo(f"runs in this process (they use the warehouse): {', '.join(here)}")
    if planned.estimated_seconds is not None:
        echo(f"estimated duration: {planned.estimated_seconds:.1f}s (serial, from history)")
