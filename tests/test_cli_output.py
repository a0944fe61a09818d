"""What the command line prints agrees with itself, the UI and the docs (issue 13, item 17).

Real subprocesses for the commands (``materialize``, ``status``, ``schedules``, Ctrl-C); the
UI's view models in-process over the same state file, to compare what both show.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import PROJECT_HEADER, ProjectFactory, cli_env, run_cli

from assetflow import Project

PIPELINE = """\
import pathlib
import time

from assetflow import asset


@asset(io="none")
def customers():
    pass


@asset(io="none", freshness={"max_lag": "26h"})
def orders():
    pass


@asset(io="none", freshness={"max_lag": "3d"})
def refunds():
    pass
"""


def runs(root: Path) -> list[dict[str, object]]:
    code, out, err = run_cli(["runs", "--json"], root)
    assert code == 0, err
    found: list[dict[str, object]] = json.loads(out)["runs"]
    return found


# --- A materialize with nothing to do is not a run ---------------------------------------------


def test_a_materialize_with_nothing_to_do_records_no_run(make_project: ProjectFactory) -> None:
    """Cron running `materialize` every five minutes must not flood `runs` with empty runs."""
    root = make_project(pipeline=PIPELINE)
    code, out, err = run_cli(["materialize", "customers"], root)
    assert code == 0, err
    assert len(runs(root)) == 1

    code, out, err = run_cli(["materialize", "customers"], root)
    assert (code, err) == (0, "")
    assert out.strip() == "nothing to do: every selected partition is fresh"
    code, out, err = run_cli(["materialize", "customers", "--json"], root)
    assert code == 0, err
    assert json.loads(out) == {
        "run_id": None,
        "status": "success",
        "counts": {},
        "steps": [],
        "waiting": [],
    }
    assert len(runs(root)) == 1, "no run was recorded for either"


def test_a_backfill_with_nothing_to_do_is_still_tracked(make_project: ProjectFactory) -> None:
    """A backfill is tracked and resumable: even an empty one is recorded, with its run."""
    pipeline = PIPELINE.replace(
        "from assetflow import asset", "from assetflow import DailyPartitions, asset"
    ) + (
        '\n\n@asset(io="none", partitions=DailyPartitions(start="2024-01-01", end="2024-01-03"))'
        "\ndef daily():\n    pass\n"
    )
    root = make_project(pipeline=pipeline)
    args = ["backfill", "daily", "--from", "2024-01-01", "--to", "2024-01-02", "--missing-only"]
    assert run_cli(args, root)[0] == 0
    code, out, err = run_cli([*args, "--json"], root)
    assert code == 0, err
    document = json.loads(out)
    assert document["run_id"] is not None and document["steps"] == []
    assert len(runs(root)) == 2


# --- status and the UI agree on freshness -------------------------------------------------------


def test_status_and_the_ui_show_the_same_freshness(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    """orders has a policy and was just made (ok), refunds has one and was never made
    (overdue), customers has none: `status` said `-` for orders where the UI said `ok (26h)`."""
    from assetflow.views import load_assets

    root = make_project(pipeline=PIPELINE)
    assert run_cli(["materialize", "customers", "orders"], root)[0] == 0
    code, out, err = run_cli(["status"], root)
    assert code == 0, err
    header, *lines = out.strip().splitlines()
    start = header.index("FRESHNESS")
    shown = {line.split()[0]: line[start:].strip() for line in lines}
    assert shown == {"customers": "-", "orders": "ok (26h)", "refunds": "overdue (3d)"}

    view = load_assets(Project.load(root))
    assert {row.name: row.freshness or "-" for row in view.rows} == shown


# --- schedules: one timezone for both ticks ----------------------------------------------------


def test_schedules_shows_the_last_and_next_tick_in_the_schedules_timezone(
    make_project: ProjectFactory,
) -> None:
    toml = PROJECT_HEADER + (
        '[schedules.nightly]\ncron = "0 3 * * *"\ntimezone = "Asia/Seoul"\nselect = "customers"\n'
    )
    root = make_project(toml, pipeline=PIPELINE)
    assert run_cli(["scheduler", "--once"], root)[0] == 0
    code, out, err = run_cli(["schedules"], root)
    assert code == 0, err
    ticks = re.findall(r"(last|next) tick (\d{4}-\d\d-\d\dT[\d:]+[+-]\d\d:\d\d)", out)
    assert [kind for kind, _ in ticks] == ["last", "next"], out
    for _, moment in ticks:
        assert moment.endswith("T03:00:00+09:00"), out


# --- the scheduler's start line reads as English ----------------------------------------------


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        (1, "1 schedule, 0 eager assets, 1 freshness policy"),
        (2, "1 schedule, 0 eager assets, 2 freshness policies"),
    ],
)
def test_the_scheduler_start_line_says_policy_and_policies(
    policies: int, expected: str, make_project: ProjectFactory, clean_imports: None
) -> None:
    from assetflow.scheduling import Scheduler

    pipeline = PIPELINE if policies == 2 else PIPELINE.replace(', freshness={"max_lag": "3d"}', "")
    toml = PROJECT_HEADER + '[schedules.nightly]\ncron = "0 3 * * *"\nselect = "customers"\n'
    project = Project.load(make_project(toml, pipeline=pipeline))
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(f"test.scheduler.{policies}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    stop = threading.Event()
    stop.set()  # start, log the start line, stop
    Scheduler(project, stop=stop, logger=logger).run_forever()
    assert f"scheduler started: {expected}" in records, records


# --- Ctrl-C: one "cancelled", and a progress bar that shows what was done ----------------------

SLOW = """\
import pathlib
import time

from assetflow import StaticPartitions, asset


@asset(io="none", partitions=StaticPartitions(["a", "b", "c", "d"]))
def slow(context):
    pathlib.Path(f"started.{context.partition_key}").touch()
    time.sleep(2)
"""


def test_ctrl_c_says_cancelled_once_and_the_ui_shows_the_fraction_done(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    from assetflow.views import load_run, load_runs
    from assetflow.views.format import progress_bar

    root = make_project(PROJECT_HEADER + "[executor]\nworkers = 1\n", pipeline=SLOW)
    process = subprocess.Popen(
        [sys.executable, "-m", "assetflow", "materialize", "slow"],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (root / "started.a").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    said = [line for line in (out + err).splitlines() if "cancelled" in line]
    # One line for the steps the cancel skipped (not one per step), one for the run.
    assert said == [
        "skipped 3 steps  run cancelled  [4/4]",
        f"run {said[-1].split()[1]} cancelled: 3 skipped, 1 success",
    ], out + err

    project = Project.load(root)
    (row,) = load_runs(project).rows
    assert row.status == "cancelled"
    assert (row.done, row.total) == (1, 4)
    assert progress_bar(row.done, row.total) == "██░░░░░░░░"
    detail = load_run(project, row.run_id)
    assert (detail.run.done, detail.run.total) == (1, 4)


def test_ctrl_c_with_json_prints_the_cancelled_runs_document(make_project: ProjectFactory) -> None:
    """Scripts get the run id of a cancelled run too; progress lines stay on stderr."""
    root = make_project(PROJECT_HEADER + "[executor]\nworkers = 1\n", pipeline=SLOW)
    process = subprocess.Popen(
        [sys.executable, "-m", "assetflow", "materialize", "slow", "--json"],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (root / "started.a").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    document = json.loads(out)
    assert document["status"] == "cancelled" and document["run_id"]
    assert [s["status"] for s in document["steps"]] == ["success", *["skipped"] * 3]
    assert len([line for line in err.splitlines() if line.endswith("cancelled")]) == 0, err
