"""Screening, status counts and plans with every definition's keys numbered, not listed.

Definitions with more than ``keyspace.LISTED_KEYS`` keys are screened by numbering the status
cache's keys in SQL, keep their never-attempted partitions as index ranges, and plan them as
step ranges. Here the threshold is 0, so the small random graphs and histories of the screening
property test go through that path: statuses, reasons, counts and plans must be exactly those
of evaluating every partition one by one.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import test_screen_properties as screening
from hypothesis import given, settings
from hypothesis import strategies as st
from planner_sim import History, deterministic_data
from test_planner_properties import SETTINGS, START, graphs

from assetflow.application.operations import _screened, count_statuses
from assetflow.graph.asset_graph import AssetGraph
from assetflow.partitions import keyspace
from assetflow.planner import plan_json
from assetflow.planner.plan import build_plan
from assetflow.planner.plan_json import plan_json_chunks
from assetflow.planner.screen import Candidates
from assetflow.planner.status import StatusEvaluator
from assetflow.planner.steps import PlanSteps
from assetflow.planner.targets import resolve_targets
from assetflow.records import PartitionStatus
from assetflow.store import StateStore


@pytest.fixture
def numbered() -> Iterator[None]:
    listed, chunk = keyspace.LISTED_KEYS, plan_json.CHUNK_KEYS
    keyspace.LISTED_KEYS, plan_json.CHUNK_KEYS = 0, 2  # a range's steps in several chunks
    try:
        yield
    finally:
        keyspace.LISTED_KEYS, plan_json.CHUNK_KEYS = listed, chunk


def test_screening_property_with_numbered_keys(numbered: None) -> None:
    screening.test_screening_matches_evaluating_everything()


@settings(SETTINGS, max_examples=40)
@given(
    graph=st.one_of(graphs(), screening.screenable_graphs()),
    script=screening.scripts,
    data=st.data(),
)
def _plans_and_counts_match(
    graph: AssetGraph, script: tuple[bool, list[screening.Step]], data: st.DataObject
) -> None:
    history = History(graph, START)
    warm, steps = script
    if warm:
        history.make_fresh(history.nodes(), data=deterministic_data)
    for step in steps[: data.draw(st.integers(0, len(steps)), label="played")]:
        screening.play(history, step, with_only=False)
    with tempfile.TemporaryDirectory() as folder:
        store = StateStore(Path(folder) / "state.duckdb")
        screening.write(store, history, [3], 0, reverse=False)
        graph, now = history.graph, history.now
        oracle = StatusEvaluator(graph, store.snapshot(graph.assets), now)
        spec, _, evaluator = _screened(graph, store, now)
        candidates = evaluator.candidates
        assert isinstance(candidates, Candidates)
        # Status counts: the screened records equal counting every partition's status.
        names = list(graph.assets)
        expected = count_statuses(names, oracle.evaluate(history.nodes()))
        wanted = [node for node in candidates.explicit]
        records = count_statuses(names, evaluator.evaluate(wanted))
        for record, want in zip(records, expected, strict=True):
            missing = candidates.bulk_count(record["asset"])
            record["counts"][PartitionStatus.MISSING.value] += missing
            total = len(spec.keys(next(a for a in spec.assets if a.name == record["asset"])))
            record["counts"][PartitionStatus.FRESH.value] += total - sum(record["counts"].values())
            assert record["counts"] == want["counts"], history.log
        # Plans of every asset and of everything: the same steps, in the same order.
        selections = [names, *([name] for name in names)]
        for selection in selections:
            targets = resolve_targets(graph, selection, now)
            for only in (False, True):
                fresh_ev = StatusEvaluator(graph, store.snapshot(graph.assets), now)
                want_plan = build_plan(graph, fresh_ev, targets, only=only)
                _, _, screened_ev = _screened(graph, store, now)
                got = build_plan(graph, screened_ev, targets, only=only)
                assert list(got.steps) == list(want_plan.steps), history.log
                assert len(got.steps) == len(want_plan.steps)
                assert dict(got.seen or {}) == dict(want_plan.seen or {})
                assert got.waiting == want_plan.waiting
                assert got.to_json() == want_plan.to_json()
                # plan --json in pieces is json.dumps of the whole document, with estimates.
                estimates = {name: 0.5 * (i % 3) for i, name in enumerate(names) if i % 4}
                got, want_plan = (
                    replace(got, estimates=estimates),
                    replace(want_plan, estimates=estimates),
                )
                extra = {"runs_on": dict.fromkeys(names, "coordinator")}
                text = json.dumps({**got.to_json(), **extra}, indent=2, default=str)
                assert "".join(plan_json_chunks(got, extra)) == text + "\n"
                # Step ranges sum estimates per asset: the same, to the last bits of a float.
                assert got.estimated_seconds == pytest.approx(want_plan.estimated_seconds)
                if isinstance(got.steps, PlanSteps):
                    assert [got.steps[i] for i in range(len(got.steps))] == list(want_plan.steps)


def test_plans_and_counts_with_numbered_keys(numbered: None) -> None:
    _plans_and_counts_match()
