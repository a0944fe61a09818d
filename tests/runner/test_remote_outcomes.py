"""Whatever an asset puts in its metadata or its checks' metadata, the outcome of an attempt
on a worker can be sent back (pickled), and records exactly what threads would record."""

from __future__ import annotations

import pickle
import threading
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.records import CheckRecord, StepStatus
from assetflow.runner.attempt import AttemptOutcome
from assetflow.runner.remote import plain
from assetflow.text import dump_json

NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Values assets really put there: plain data, odd text, and objects that cannot be pickled.
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.binary(),
    st.datetimes(),
    st.sampled_from([threading.Lock(), (i for i in range(2)), lambda: 1, object()]),
)
values: st.SearchStrategy[Any] = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(), st.integers()), inner, max_size=3),
    ),
    max_leaves=8,
)
metadata = st.dictionaries(st.text(), values, max_size=4)


@settings(max_examples=150, deadline=None)
@given(metadata, metadata)
def test_a_plain_outcome_pickles_and_records_what_threads_record(
    asset_metadata: dict[str, Any], check_metadata: dict[str, Any]
) -> None:
    check = CheckRecord("a", "-", "c", False, False, NOW, metadata=check_metadata)
    outcome = AttemptOutcome(StepStatus.SUCCESS, NOW, NOW, metadata=asset_metadata, checks=(check,))
    sent = pickle.loads(pickle.dumps(plain(outcome)))
    assert dump_json(sent.metadata) == dump_json(asset_metadata)
    assert dump_json(sent.checks[0].metadata) == dump_json(check_metadata)
