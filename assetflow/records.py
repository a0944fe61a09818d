"""The records of run history: plain frozen data shared by the runner, the store and the planner.

History is append-only: one :class:`MaterializationRecord` per attempt (and one per skipped
step), with its :class:`LineageRecord` rows (what it read) and :class:`LogRecord` rows (what it
logged). "Current status" is derived from these (and cached per partition by the store), never
the only truth.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """The status of one run."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"  # finished, with at least one failed step
    CANCELLED = "cancelled"
    CRASHED = "crashed"  # its process died without recording an end


class StepStatus(StrEnum):
    """The outcome of one attempt (success / failed) or of a step never attempted (skipped)."""

    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


class PartitionStatus(StrEnum):
    """The status of one (asset, partition); exactly one applies."""

    FRESH = "fresh"
    STALE = "stale"
    MISSING = "missing"
    FAILED = "failed"
    RUNNING = "running"
    WAITING = "waiting"  # a source partition it reads is not there yet: not attempted


class ReasonKind(StrEnum):
    """Why a materialized partition is stale (or, for the others, why it is not fresh)."""

    CODE_CHANGED = "code_changed"
    UPSTREAM_CHANGED = "upstream_changed"
    UPSTREAM_ADDED = "upstream_added"
    UPSTREAM_REMOVED = "upstream_removed"
    UPSTREAM_STALE = "upstream_stale"
    OVERDUE = "overdue"
    DATA_MISSING = "data_missing"  # the stored data of a partition recorded as made is gone
    DATA_CHANGED = "data_changed"  # `assetflow verify` found it changed outside assetflow
    SOURCE_CHANGED = "source_changed"  # a source partition it read was observed at a new version
    SOURCE_MISSING = "source_missing"  # a source partition it reads is not there yet (waiting)
    MISSING = "missing"
    FAILED = "failed"
    RUNNING = "running"
    FORCED = "forced"


class RunKind(StrEnum):
    MATERIALIZE = "materialize"
    BACKFILL = "backfill"
    SCHEDULE = "schedule"
    AUTOMATION = "automation"


def utcnow() -> datetime:
    """The current time, tz-aware in UTC (every timestamp in history is UTC)."""
    return datetime.now(UTC)


def new_id() -> int:
    """A random positive 63-bit id: unique across processes without coordination."""
    return random.SystemRandom().getrandbits(63)


def new_run_id(now: datetime | None = None) -> str:
    """A readable, sortable, unique run id: ``20240131-130501-3fa2c1``."""
    moment = now or utcnow()
    return f"{moment:%Y%m%d-%H%M%S}-{random.SystemRandom().getrandbits(24):06x}"


def this_host() -> str:
    return socket.gethostname()


def this_pid() -> int:
    return os.getpid()


@dataclass(frozen=True)
class RunRecord:
    """One invocation executing a plan."""

    run_id: str
    kind: str
    selection: str
    arguments: Mapping[str, Any]
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None = None
    host: str = ""
    pid: int = 0
    version: str = ""
    backfill_id: str | None = None
    # When the run last proved alive (its recorder beats while it runs); not part of equality.
    heartbeat_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class MaterializationRecord:
    """One attempt to produce one partition of one asset, or one skipped step (attempt 0)."""

    id: int
    run_id: str
    asset: str
    partition: str
    attempt: int
    status: StepStatus
    started_at: datetime
    ended_at: datetime
    code_version: str
    data_version: str | None = None
    row_count: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None  # why a step was skipped: "upstream failed: A[P]"
    # The shape of what the partition read (AssetGraph.inputs_version): while it is unchanged,
    # the recorded lineage is still the set of partitions it should read.
    inputs_version: str | None = None

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class LineageRecord:
    """One upstream materialization a materialization read, with the data version it saw."""

    materialization_id: int
    upstream_asset: str
    upstream_partition: str
    upstream_materialization_id: int | None
    upstream_data_version: str | None


@dataclass(frozen=True)
class LogRecord:
    """One log record an asset function emitted through ``context.log``."""

    materialization_id: int
    seq: int
    created_at: datetime
    level: str
    message: str
    logger: str = ""


@dataclass(frozen=True)
class CheckRecord:
    """The outcome of one data quality check on one partition.

    Checks run inside a step (``materialization_id`` is the attempt whose new data they
    checked) or on stored data by ``assetflow check`` (``materialization_id`` is the success
    whose data they read, ``run_id`` is None).
    """

    asset: str
    partition: str
    check_name: str
    blocking: bool
    passed: bool
    checked_at: datetime
    materialization_id: int | None = None
    run_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    description: str = ""


@dataclass(frozen=True)
class BackfillRecord:
    """A tracked, resumable run over an explicit partition range."""

    backfill_id: str
    selection: str
    range_from: str | None
    range_to: str | None
    options: Mapping[str, Any]
    status: RunStatus
    created_at: datetime
    updated_at: datetime
    total: int = 0
    done: int = 0
    run_ids: tuple[str, ...] = ()


# --- The planner's view of history ------------------------------------------------------------


@dataclass(frozen=True)
class InputVersion:
    """An upstream partition a success read, with the data version it read."""

    asset: str
    partition: str
    data_version: str | None
    materialization_id: int | None = None


@dataclass(frozen=True)
class LastSuccess:
    """The latest successful materialization of a partition, as the planner needs it."""

    materialization_id: int
    code_version: str
    data_version: str | None
    ended_at: datetime
    inputs: tuple[InputVersion, ...] = ()


@dataclass(frozen=True)
class PartitionState:
    """What history says about one (asset, partition): the planner's only input from the store.

    ``latest_failed`` is true when the latest attempt failed after the last success (or with no
    success at all); ``running_in`` names the live run materializing it now, if any.
    """

    last_success: LastSuccess | None = None
    latest_failed: bool = False
    latest_error: str | None = None
    running_in: str | None = None
    absent: bool = False  # a source partition last observed not there


# Keyed by (asset, partition); partitions absent from it have never been attempted.
StateSnapshot = Mapping[tuple[str, str], PartitionState]
