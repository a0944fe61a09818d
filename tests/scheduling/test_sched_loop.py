"""The scheduler over a real state file, driven by a manual clock (no sleeping).

Each scenario runs the real loop (:meth:`Scheduler.run_forever`): the manual clock jumps to each
wake-up at once, and a hook stops the loop once it would sleep past the scenario's end.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import PROJECT_HEADER, ProjectFactory

from assetflow.application.project import Project
from assetflow.records import RunKind
from assetflow.scheduling import ManualClock, Scheduler

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")

SEOUL_PIPELINE = """
from assetflow import DailyPartitions, asset

@asset(partitions=DailyPartitions(start="2024-01-01", timezone="Asia/Seoul"), io="none",
       schedule="0 3 * * *")
def events(context):
    return None
"""

NEW_YORK_TOML = (
    PROJECT_HEADER
    + """
timezone = "America/New_York"

[schedules.ny]
cron = "CRON"
timezone = "America/New_York"
select = "events"
"""
)

NEW_YORK_PIPELINE = """
from assetflow import DailyPartitions, asset

@asset(partitions=DailyPartitions(start="START"), io="none")
def events(context):
    return None
"""


def run_loop(project: Project, start: datetime, end: datetime) -> ManualClock:
    """Run the scheduler loop from ``start`` until it would sleep past ``end``."""
    stop = threading.Event()

    def on_sleep(moment: datetime) -> None:
        if moment > end:
            stop.set()

    clock = ManualClock(start, on_sleep)
    Scheduler(project, clock=clock, stop=stop).run_forever()
    return clock


def schedule_runs(project: Project) -> list[tuple[str, list[str]]]:
    """``(tick, [partitions materialized, in key order])`` of every schedule run, oldest first.

    Key order, not start order: a run's steps start side by side on its workers, so the order
    history lists them in (by start time) differs from run to run."""
    store = project.store
    found = []
    for summary in reversed(store.runs(limit=1000)):
        run = summary.run
        assert run.kind == RunKind.SCHEDULE
        steps = sorted(m.partition for m in store.run_steps(run.run_id) if m.status == "success")
        found.append((run.arguments["tick"], steps))
    return found


def test_daily_at_03_seoul_runs_each_tick_once_with_the_day_that_just_ended(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(pipeline=SEOUL_PIPELINE)
    project = Project.load(root)
    assert [(s.name, s.timezone) for s in project.schedules()] == [("asset:events", "Asia/Seoul")]
    clock = run_loop(
        project,
        datetime(2024, 1, 1, 12, tzinfo=SEOUL),
        datetime(2024, 1, 5, 12, tzinfo=SEOUL),
    )
    assert [s.isoformat() for s in clock.sleeps] == [
        f"2024-01-0{day}T03:00:00+09:00" for day in (2, 3, 4, 5, 6)
    ]
    # The first evaluation claimed 2024-01-01T03:00 (the latest past tick): nothing was due.
    assert schedule_runs(project) == [
        (f"2024-01-0{day}T03:00:00+09:00", [f"2024-01-0{day - 1}"]) for day in (2, 3, 4, 5)
    ]
    ticks = project.store.ticks("asset:events")
    assert [(t.tick.astimezone(SEOUL).day, t.status) for t in reversed(ticks)] == [
        (1, "nothing_to_do"),
        (2, "success"),
        (3, "success"),
        (4, "success"),
        (5, "success"),
    ]


@pytest.mark.parametrize(
    ("cron", "start", "expected"),
    [
        (  # spring forward: there is no 02:30 on 2024-03-10; that tick fires at 03:00 EDT
            "30 2 * * *",
            datetime(2024, 3, 8, 12, tzinfo=NEW_YORK),
            ["2024-03-09T02:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
        ),
        (  # fall back: 02:30 on 2024-11-03 happens once, an hour later in UTC than the day before
            "30 2 * * *",
            datetime(2024, 11, 1, 12, tzinfo=NEW_YORK),
            ["2024-11-02T02:30:00-04:00", "2024-11-03T02:30:00-05:00", "2024-11-04T02:30:00-05:00"],
        ),
        (  # fall back: 01:30 on 2024-11-03 happens twice; it ticks at the first one only
            "30 1 * * *",
            datetime(2024, 11, 1, 12, tzinfo=NEW_YORK),
            ["2024-11-02T01:30:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
        ),
    ],
)
def test_new_york_across_daylight_saving_runs_exactly_once_per_tick(
    make_project: ProjectFactory,
    clean_imports: None,
    cron: str,
    start: datetime,
    expected: list[str],
) -> None:
    day_before = (start - timedelta(days=1)).date().isoformat()
    pipeline = NEW_YORK_PIPELINE.replace("START", day_before)
    root = make_project(NEW_YORK_TOML.replace("CRON", cron), pipeline=pipeline)
    project = Project.load(root)
    run_loop(project, start, start + timedelta(days=3))
    runs = schedule_runs(project)
    # The first evaluation ran the latest past tick (that morning's): the day before.
    assert runs[0][1] == [day_before]
    assert [tick for tick, _ in runs[1:]] == expected
    # Each tick materialized exactly the day that ended before it (New York days).
    for tick, partitions in runs[1:]:
        day = datetime.fromisoformat(tick).astimezone(NEW_YORK).date() - timedelta(days=1)
        assert partitions == [day.isoformat()]


def test_a_scheduler_down_three_days_runs_once_on_start_and_catches_up(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(pipeline=SEOUL_PIPELINE)
    project = Project.load(root)
    clock = ManualClock(datetime(2024, 1, 2, 3, 0, 5, tzinfo=SEOUL))
    first = Scheduler(project, clock=clock).evaluate()
    assert [(o.status, o.steps) for o in first.ticks] == [("success", 1)]
    clock.current = datetime(2024, 1, 5, 9, tzinfo=SEOUL)  # down from Jan 2 to Jan 5
    again = Scheduler(project, clock=clock).evaluate()
    assert [(o.tick, o.coalesced, o.status, o.steps) for o in again.ticks] == [
        (datetime(2024, 1, 5, 3, tzinfo=SEOUL), 2, "success", 3)
    ]
    assert schedule_runs(project)[-1] == (
        "2024-01-05T03:00:00+09:00",
        ["2024-01-02", "2024-01-03", "2024-01-04"],
    )
    assert Scheduler(project, clock=clock).evaluate().ticks == []  # nothing twice
    assert project.store.ticks("asset:events")[0].coalesced == 2


def test_two_schedulers_racing_run_each_tick_once(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(pipeline=SEOUL_PIPELINE)
    project = Project.load(root)
    moments = [datetime(2024, 1, day, 3, 0, 1, tzinfo=SEOUL) for day in (2, 3, 4)]
    for moment in moments:
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def race(
            moment: datetime = moment,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            scheduler = Scheduler(project, clock=ManualClock(moment))
            barrier.wait()
            outcomes.extend(o.status for o in scheduler.evaluate().ticks)

        threads = [threading.Thread(target=race) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # One ran it; the other found it claimed, or saw it already claimed when it looked.
        assert outcomes.count("success") == 1
        assert set(outcomes) <= {"success", "claimed_elsewhere"}
    assert [tick for tick, _ in schedule_runs(project)] == [
        m.replace(second=0).isoformat() for m in moments
    ]


def test_claiming_one_tick_from_many_threads_succeeds_once(tmp_path: Path) -> None:
    from assetflow.store import StateStore

    path = tmp_path / "state.duckdb"
    StateStore(path).claim_tick("warmup", datetime(2024, 1, 1, tzinfo=SEOUL), "x")
    tick = datetime(2024, 1, 2, 3, tzinfo=SEOUL)
    barrier = threading.Barrier(4)
    won: list[bool] = []

    def claim(index: int) -> None:
        store = StateStore(path)  # its own store, its own connections
        barrier.wait()
        won.append(store.claim_tick("daily", tick, f"thread-{index}"))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(won) == [False, False, False, True]
    (record,) = StateStore(path).ticks("daily")
    assert record.status == "claimed" and record.tick == tick
