"""Checks as commands: list them with their latest results, run them on stored data.

Inside a run, checks run in each step before its data is stored (see
:mod:`assetflow.runner.checking`). ``assetflow check`` runs the same checks on the data
partitions hold now, and records the results against the success that wrote that data, so a
check added later, or a rule that changed, can be tried without re-materializing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assetflow.application.operations import Scope, targets
from assetflow.definitions.checks import CheckDef
from assetflow.records import CheckRecord

if TYPE_CHECKING:
    from assetflow.application.workspace import Workspace

__all__ = ["check_listing", "run_checks"]


def _checks_of(workspace: Workspace, names: list[str]) -> dict[str, list[CheckDef]]:
    found: dict[str, list[CheckDef]] = defaultdict(list)
    chosen = set(names)
    for check_def in workspace.graph.checks:
        if check_def.asset in chosen:
            found[check_def.asset].append(check_def)
    return found


def check_listing(workspace: Workspace, scope: Scope) -> list[dict[str, Any]]:
    """Every check on the selected assets with its latest result and the partitions whose
    current data fails it (the ``checks --json`` records)."""
    names = workspace.select(list(scope.selection) or None, list(scope.exclude) or None)
    checks = _checks_of(workspace, names)
    store = workspace.store
    assets = [name for name in names if name in checks]
    latest = {(r.asset, r.check_name): r for r in store.latest_checks(assets)} if assets else {}
    failing: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in store.failing_checks(assets) if assets else []:
        failing[(record.asset, record.check_name)].append(record.partition)
    listing = []
    for name in assets:
        for check_def in checks[name]:
            last = latest.get((name, check_def.name))
            listing.append(
                {
                    "asset": name,
                    "check": check_def.name,
                    "blocking": check_def.blocking,
                    "kind": check_def.kind,
                    "description": check_def.description
                    or (check_def.builtin.text if check_def.builtin else ""),
                    "latest": None if last is None else _result_json(last),
                    "failing_partitions": failing.get((name, check_def.name), []),
                }
            )
    return listing


def _result_json(record: CheckRecord) -> dict[str, Any]:
    return {
        "partition": record.partition,
        "passed": record.passed,
        "checked_at": record.checked_at.isoformat(),
        "metadata": dict(record.metadata),
        "error": record.error,
        "run_id": record.run_id,
    }


def run_checks(
    workspace: Workspace, scope: Scope, now: datetime | None = None
) -> list[CheckRecord]:
    """Run the selected assets' checks on the data their targeted partitions hold now.

    Partitions never materialized are left out (nothing to check), and so are assets stored
    with ``io = "none"`` (nothing kept). The results are recorded; returns them in asset,
    partition, check order.
    """
    from assetflow.io import Warehouse, io_manager_for
    from assetflow.runner.checking import arrow_table, evaluate_checks

    moment = workspace.now(now)
    nodes = targets(workspace, scope, moment)
    checks = _checks_of(workspace, [asset for asset, _ in nodes.groups])
    store = workspace.store
    wanted = [(asset, key) for asset, key in nodes if asset in checks]
    snapshot = store.snapshot_of(wanted) if wanted else {}
    config = workspace.config
    records: list[CheckRecord] = []
    with Warehouse(config.warehouse_path, wait_limit=config.storage.lock_timeout_s) as warehouse:
        for asset, key in wanted:
            state = snapshot.get((asset, key))
            definition = workspace.graph[asset]
            if state is None or state.last_success is None or definition.io == "none":
                continue
            if definition.dbt is not None:  # its checks are dbt tests: dbt runs them
                from assetflow.runner.dbt_steps import test_dbt_checks

                success = state.last_success.materialization_id
                records.extend(test_dbt_checks(warehouse, definition, key, checks[asset], success))
                continue
            manager = io_manager_for(definition, warehouse=warehouse, data_dir=config.data_root)
            con = warehouse.cursor()
            try:
                data = manager.load(definition, [key], con)
                if data is None:
                    continue
                records.extend(
                    evaluate_checks(
                        checks[asset],
                        definition,
                        key,
                        arrow_table(data),
                        con,
                        materialization_id=state.last_success.materialization_id,
                        run_id=None,
                    )
                )
            finally:
                con.close()
                warehouse.release()
    if records:
        store.append(checks=records)
    return records
