"""Whatever text or metadata an asset produces, history records it (issue 13, item 2).

Generated inputs: any Unicode text, lone surrogates and NUL included, megabytes of it, and
metadata holding anything Python can hold (tuple keys, cycles, NaN, bytes, sets, objects whose
``__str__`` raises). Every batch is written, readable back, and the heartbeat in it lands.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from store_factories import log, make_m, make_run

from assetflow.records import CheckRecord, StepStatus, utcnow
from assetflow.store import Recorder, StateStore
from assetflow.text import describe, dump_json, json_safe, storable_text

ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=200)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


SCALARS = st.one_of(
    ANY_TEXT,
    st.integers(min_value=-(10**5000), max_value=10**5000) | st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=50),
    st.none(),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)),
    st.builds(Unprintable),
    st.builds(object),
)
KEYS = st.one_of(
    ANY_TEXT,
    st.integers(),
    st.floats(),
    st.none(),
    st.tuples(ANY_TEXT, st.integers()),
    st.builds(Unprintable),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.frozensets(st.one_of(ANY_TEXT, st.integers()), max_size=4),
        st.dictionaries(KEYS, inner, max_size=4),
    ),
    max_leaves=20,
)


def _with_cycle(metadata: dict[Any, Any], make_cycle: bool) -> dict[Any, Any]:
    if make_cycle:
        loop: dict[str, Any] = {"k": 1}
        loop["self"] = loop
        metadata = {**metadata, "loop": loop, "list": [loop, [loop]]}
    return metadata


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    message=ANY_TEXT,
    error=ANY_TEXT,
    metadata=st.dictionaries(KEYS, VALUES, max_size=5),
    cycle=st.booleans(),
)
@example(message="x" * 10_000_000, error="\x00", metadata={}, cycle=False)
@example(message="caf\udce9.csv \ud800 \x00", error="\udcff", metadata={("a", 1): 1}, cycle=True)
def test_any_text_and_metadata_are_recorded(
    tmp_path: Path, message: str, error: str, metadata: dict[Any, Any], cycle: bool
) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    run = make_run()
    metadata = _with_cycle(metadata, cycle)
    failed = make_m(
        run.run_id,
        "a",
        f"p{len(message)}",
        StepStatus.FAILED,
        error=error,
        traceback=message,
        metadata=metadata,
    )
    success = make_m(run.run_id, "a", "ok", metadata=metadata, reason=message)
    check = CheckRecord(
        materialization_id=success.id,
        run_id=run.run_id,
        asset="a",
        partition="ok",
        check_name="c",
        passed=False,
        blocking=False,
        metadata=metadata,
        error=error,
        checked_at=success.ended_at,
    )
    with Recorder(store, interval=3600) as recorder:
        recorder.add(runs_started=[run])
        recorder.add(
            materializations=[failed, success],
            logs=[log(failed, 0, message), log(success, 0, error)],
            checks=[check],
        )
        with recorder._pending_lock:  # the beat rides in the same batch as the hostile text
            recorder._pending.heartbeats.append((run.run_id, utcnow()))
    assert recorder.failed_flushes == 0
    steps = store.run_steps(run.run_id)
    assert [s.status for s in steps] == [StepStatus.FAILED, StepStatus.SUCCESS]
    assert steps[0].error == storable_text(error)
    assert steps[0].traceback == storable_text(message)
    assert steps[1].metadata == json.loads(dump_json(metadata) or "{}")
    assert steps[1].reason == storable_text(message)
    (found,) = [r.record for r in store.logs("a") if r.record.materialization_id == failed.id]
    assert found.message == storable_text(message)
    assert store.runs()[0].heartbeat_at is not None
    assert store.runs()[0].heartbeat_at > run.started_at


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


@settings(max_examples=200, deadline=None)
@given(value=VALUES, cycle=st.booleans())
def test_dump_json_is_total_and_valid(value: Any, cycle: bool) -> None:
    metadata = _with_cycle({"v": value}, cycle)
    text = dump_json(metadata)
    assert text is not None
    loaded = json.loads(text, parse_constant=_refuse)  # strict JSON: no NaN, no Infinity
    assert text.encode("utf-8")  # valid UTF-8
    assert set(loaded) == {str(k) for k in metadata}


@given(value=SCALARS)
def test_describe_never_raises(value: Any) -> None:
    text = describe(value)
    assert isinstance(text, str)
    text.encode("utf-8")


def test_json_safe_keeps_ordinary_values() -> None:
    moment = datetime(2024, 1, 2, tzinfo=UTC)
    assert json_safe({"n": 1, "f": 1.5, "s": "é", "l": [1, (2, 3)], "t": moment}) == {
        "n": 1,
        "f": 1.5,
        "s": "é",
        "l": [1, [2, 3]],
        "t": "2024-01-02T00:00:00+00:00",
    }
    assert storable_text("caf\udce9") == "caf\\udce9"
