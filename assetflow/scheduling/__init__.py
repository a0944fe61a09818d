"""Schedules, the scheduler loop and eager automation (SPEC section 9).

- :mod:`~assetflow.scheduling.cron`: pure tick arithmetic in an IANA timezone (DST rules);
- :mod:`~assetflow.scheduling.schedules`: a project's schedules as plain data;
- :mod:`~assetflow.scheduling.automation`: which partitions ``automation="eager"`` runs;
- :mod:`~assetflow.scheduling.clock`: the real clock, a shifted one, a manual one for tests;
- :mod:`~assetflow.scheduling.scheduler`: evaluations and the long-running loop.

The scheduler keeps no state of its own: the ``schedule_ticks`` table of the state store
records each claimed tick, so a tick runs once even with several schedulers.
"""

from assetflow.scheduling.automation import eager_targets
from assetflow.scheduling.clock import Clock, ManualClock, ShiftedClock, SystemClock
from assetflow.scheduling.cron import DueTick, due_tick, latest_tick, next_tick, ticks_between
from assetflow.scheduling.scheduler import Evaluation, Outcome, Scheduler
from assetflow.scheduling.schedules import ScheduleSpec, collect_schedules

__all__ = [
    "Clock",
    "DueTick",
    "Evaluation",
    "ManualClock",
    "Outcome",
    "ScheduleSpec",
    "Scheduler",
    "ShiftedClock",
    "SystemClock",
    "collect_schedules",
    "due_tick",
    "eager_targets",
    "latest_tick",
    "next_tick",
    "ticks_between",
]
