"""The OpenLineage export (issue 17, item 2), end to end with no mocks: a real HTTP receiver on
127.0.0.1 hears every step attempt of a run as START then COMPLETE or FAIL, parsed back by the
client library's own models; an unreachable endpoint changes nothing but a bounded delay; the
file transport writes the same events; bad configuration fails the load naming the key."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("openlineage.client")

from helpers import PROJECT_HEADER, REPO_ROOT, ProjectFactory, run_cli
from ol_events import Receiver, by_job, closed_port_url, parse, receive

from assetflow.application.project import Project
from assetflow.errors import ConfigError
from assetflow.lineage_export import INSTALL_HINT, OpenLineageListener

PIPELINE = """
import pyarrow as pa
from assetflow import DailyPartitions, RetryPolicy, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")

@asset
def products():
    return pa.table({"product_id": [1, 2, 3], "name": ["a", "b", "c"]})

@asset(partitions=DAYS)
def orders(context, products):
    day = context.partition_key
    return pa.table({"day": [day] * 4, "product_id": [1, 2, 3, 1], "amount": [1.0, 2.0, 3.0, 4.0]})

@asset(partitions=DAYS, io="parquet")
def totals(orders):
    return orders.aggregate("day, sum(amount) AS total", "day")

@asset(retries=RetryPolicy(max_retries=1))
def broken(products):
    raise ValueError("no luck")
"""


def lineage_toml(transport: str, namespace: str = "shop-lineage") -> str:
    return PROJECT_HEADER + (
        f'\n[lineage.openlineage]\nnamespace = "{namespace}"\ntransport = {transport}\n'
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receive()


def load(folder: Path) -> Project:
    return Project.load(folder)


def export_of(project: Project) -> OpenLineageListener:
    (listener,) = project.exports()
    assert isinstance(listener, OpenLineageListener)
    return listener


def test_each_attempt_is_a_start_then_a_complete_or_fail(
    make_project: ProjectFactory, clean_imports: None, receiver: Receiver
) -> None:
    folder = make_project(
        lineage_toml(f'{{ type = "http", url = "{receiver.url}" }}'), pipeline=PIPELINE
    )
    project = load(folder)
    result = project.materialize(["totals", "broken"], partition=None, workers=2)
    assert result.status.value == "failed"
    assert export_of(project).outbox.flush(5)
    events = [parse(body) for body in receiver.events()]
    assert set(receiver.paths) == {"/api/v1/lineage"}  # the client's default endpoint

    kinds = by_job(events)
    steps = [s for s in result.steps if s.status.value == "success"]
    assert len(steps) == 1 + 3 + 3  # products, orders × 3 days, totals × 3 days
    # Exactly one START and one COMPLETE per successful step; a retried failure: two attempts.
    assert sorted(kinds["products"]) == ["COMPLETE", "START"]
    assert sorted(kinds["orders"]) == ["COMPLETE"] * 3 + ["START"] * 3
    assert sorted(kinds["totals"]) == ["COMPLETE"] * 3 + ["START"] * 3
    assert sorted(kinds["broken"]) == ["FAIL", "FAIL", "START", "START"]
    assert all(event.job.namespace == "shop-lineage" for event in events)

    # run = the attempt: each run id has one START, then one COMPLETE or FAIL, in that order.
    per_run: dict[str, list[str]] = {}
    for event in events:
        assert event.eventType is not None
        per_run.setdefault(event.run.runId, []).append(event.eventType.value)
    assert sorted(per_run.values()) == sorted([["START", "COMPLETE"]] * 7 + [["START", "FAIL"]] * 2)
    # The parent is the assetflow run: one id for all, named after the project.
    parents = {e.run.facets["parent"].run.runId for e in events}  # type: ignore[index]
    assert len(parents) == 1
    assert {e.run.facets["parent"].job.name for e in events} == {"t"}  # type: ignore[index]
    assert {e.run.facets["assetflow_attempt"]["runId"] for e in events} == {result.run_id}  # type: ignore[index]

    # inputs: the upstream datasets with the partitions read; the output with its partition.
    completes = {
        (e.job.name, e.run.facets["assetflow_attempt"]["partition"]): e  # type: ignore[index]
        for e in events
        if e.eventType is not None and e.eventType.value == "COMPLETE"
    }
    warehouse = f"duckdb://{(folder / 'warehouse.duckdb').resolve().as_posix()}"
    totals = completes[("totals", "2024-01-02")]
    assert [(i.namespace, i.name) for i in totals.inputs] == [(warehouse, "main.orders")]
    assert totals.inputs[0].inputFacets == {
        "assetflow_partitions": {
            "_producer": totals.producer,
            "_schemaURL": "urn:assetflow:openlineage-facets:1#/$defs/PartitionsInputFacet",
            "partitions": ["2024-01-02"],
        }
    }
    (output,) = totals.outputs
    data = (folder / "data").resolve().as_posix()
    assert (output.namespace, output.name) == ("file", f"{data}/totals")
    assert output.outputFacets["outputStatistics"].rowCount == 1  # type: ignore[index]
    assert output.outputFacets["assetflow_partitions"]["partitions"] == ["2024-01-02"]  # type: ignore[index]
    schema = output.facets["schema"]  # type: ignore[index]
    assert [(f.name, f.type) for f in schema.fields] == [("day", "VARCHAR"), ("total", "DOUBLE")]

    orders = completes[("orders", "2024-01-03")]
    assert [
        (i.name, i.inputFacets["assetflow_partitions"]["partitions"]) for i in orders.inputs
    ] == [  # type: ignore[index]
        ("main.products", ["-"])
    ]
    assert orders.outputs[0].outputFacets["outputStatistics"].rowCount == 4  # type: ignore[index]
    assert orders.outputs[0].name == "main.orders"

    # A failure says why, and has no statistics.
    fail = next(e for e in events if e.eventType is not None and e.eventType.value == "FAIL")
    assert fail.run.facets["errorMessage"].message == "ValueError: no luck"  # type: ignore[index]
    assert "outputStatistics" not in (fail.outputs[0].outputFacets or {})
    counts = export_of(project).outbox.counts()
    assert (counts.delivered, counts.failed, counts.dropped) == (len(events), 0, 0)


def test_an_unreachable_endpoint_changes_nothing_but_a_bounded_delay(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    quiet = make_project(PROJECT_HEADER, pipeline=PIPELINE, name="quiet")
    started = time.monotonic()
    baseline = load(quiet).materialize(workers=2)
    baseline_s = time.monotonic() - started

    toml = lineage_toml(f'{{ type = "http", url = "{closed_port_url()}", timeout = 1.0 }}')
    folder = make_project(toml, pipeline=PIPELINE, name="unreachable")
    project = load(folder)
    started = time.monotonic()
    result = project.materialize(workers=2)
    elapsed = time.monotonic() - started

    assert result.status == baseline.status
    assert [(s.name, s.status, s.attempts) for s in result.steps] == [
        (s.name, s.status, s.attempts) for s in baseline.steps
    ]
    # At most the flush at the end (2 s) on top of the run; generous for a loaded machine.
    assert elapsed < baseline_s + 2.0 + 5.0
    # The run is over (with the real backoff, above); the events still queued would take their
    # retries' backoff (0.2 s then 0.4 s each, ~10 s for 18) to fail: only waiting, cut here.
    outbox = export_of(project).outbox
    assert outbox.backoff_s == 0.2  # the attribute the delivery thread reads between attempts
    outbox.backoff_s = 0.0
    # The failures are recorded with the alert deliveries.
    assert outbox.flush(20)
    assert export_of(project).outbox.counts().failed == 18
    (recorded,) = project.store.deliveries(10)
    assert (recorded.event, recorded.sink, recorded.status) == (
        "openlineage",
        "openlineage http",
        "failed",
    )
    assert recorded.run_id == result.run_id
    assert "ConnectionError" in (recorded.error or "")


def test_a_full_queue_drops_events_and_counts_them(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    toml = lineage_toml(f'{{ type = "http", url = "{closed_port_url()}" }}')
    project = load(make_project(toml, pipeline=PIPELINE))
    section = project.config.lineage.openlineage
    assert section is not None
    slow = OpenLineageListener(
        project, section, export_of(project).transport, capacity=1, backoff_s=0.5
    )
    project._exports = [slow]
    started = time.monotonic()
    result = project.materialize(workers=2)
    assert time.monotonic() - started < 30
    assert result.status.value == "failed"  # `broken`, as without the export
    counts = slow.outbox.counts()
    assert counts.dropped > 0
    assert counts.delivered == 0


def test_the_file_transport_writes_the_same_events(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    toml = lineage_toml('{ type = "file", log_file_path = "lineage/events.jsonl", append = true }')
    folder = make_project(toml, pipeline=PIPELINE)
    code, _, err = run_cli(["materialize", "orders", "--partition", "2024-01-02"], folder)
    assert code == 0, err
    lines = (folder / "lineage" / "events.jsonl").read_text().splitlines()
    events = [parse(json.loads(line)) for line in lines]
    assert by_job(events) == {"products": ["START", "COMPLETE"], "orders": ["START", "COMPLETE"]}


@pytest.mark.parametrize(
    ("transport", "message"),
    [
        (
            '{ type = "http", url = "http://127.0.0.1:1", urll = "x" }',
            "lineage.openlineage.transport.urll: unknown key for transport type 'http' "
            "(did you mean: url?)",
        ),
        (
            '{ type = "carrier-pigeon" }',
            "lineage.openlineage.transport.type: expected one of 'http', 'file', 'console', "
            "'kafka', got 'carrier-pigeon'",
        ),
        ('{ type = "http" }', "lineage.openlineage.transport.url: missing required key"),
        ('{ type = "http", url = "localhost:5000" }', "expected an http(s) URL"),
        ('{ type = "http", url = "http://x", timeout = "soon" }', "lineage.openlineage.transport"),
    ],
)
def test_bad_configuration_stops_the_load_naming_the_key(
    make_project: ProjectFactory, transport: str, message: str
) -> None:
    folder = make_project(lineage_toml(transport), pipeline=PIPELINE)
    code, out, err = run_cli(["list"], folder)
    assert code == 2, out
    assert "assets.toml" in err and message in err, err
    assert "Traceback" not in err


def test_configured_without_the_client_installed_says_how_to_install_it(
    make_project: ProjectFactory, clean_imports: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_project(lineage_toml('{ type = "console" }'), pipeline=PIPELINE)
    for name in [n for n in sys.modules if n == "openlineage" or n.startswith("openlineage.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "openlineage", None)
    with pytest.raises(ConfigError) as raised:
        load(folder)
    assert INSTALL_HINT in str(raised.value)
    assert "lineage.openlineage" in str(raised.value)


def test_the_console_transport_and_no_configuration(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    assert load(make_project(PROJECT_HEADER, pipeline=PIPELINE, name="none")).exports() == []
    project = load(make_project(lineage_toml('{ type = "console" }'), pipeline=PIPELINE))
    listener = export_of(project)
    project.materialize("products")
    assert listener.outbox.flush(5)
    assert listener.outbox.counts().delivered == 2


def example_copy(root: Path) -> Path:
    """The example project at the repository root, shortened to January 2024."""
    shutil.copy(REPO_ROOT / "assets.toml", root / "assets.toml")
    shutil.copytree(REPO_ROOT / "examples", root / "examples")
    for path in (root / "assets.toml", root / "examples" / "shop" / "assets.py"):
        text = path.read_text()
        text = text.replace('end="2025-01-01"', 'end="2024-02-01"')
        text = text.replace('end = "2025-01-01"', 'end = "2024-02-01"')
        path.write_text(text.replace('end="2025-01"', 'end="2024-02"'))
    return root


def test_a_run_of_the_example_names_its_datasets_and_partitions(
    tmp_path: Path, clean_imports: None, receiver: Receiver
) -> None:
    root = example_copy(tmp_path)
    with (root / "assets.toml").open("a") as toml:
        toml.write(
            f'\n[lineage.openlineage]\nnamespace = "shop"\n'
            f'transport = {{ type = "http", url = "{receiver.url}" }}\n'
        )
    project = Project.load(root)
    result = project.materialize("+daily_revenue", partition="2024-01-03")
    assert result.status.value == "success"
    assert export_of(project).outbox.flush(10)
    events = [parse(body) for body in receiver.events()]

    steps = {(s.asset, s.partition) for s in result.steps}
    assert steps == {
        ("products", "-"),
        ("orders", "2024-01-03"),
        ("orders_cleaned", "2024-01-03"),
        ("daily_revenue", "2024-01-03"),
    }
    # One START and one COMPLETE per step, nothing else.
    assert by_job(events) == {asset: ["START", "COMPLETE"] for asset, _ in steps}
    warehouse = f"duckdb://{(root / 'warehouse.duckdb').resolve().as_posix()}"
    complete = {
        e.job.name: e for e in events if e.eventType is not None and e.eventType.value == "COMPLETE"
    }
    cleaned = complete["orders_cleaned"]
    assert {
        (i.namespace, i.name, tuple(i.inputFacets["assetflow_partitions"]["partitions"]))  # type: ignore[index]
        for i in cleaned.inputs
    } == {(warehouse, "main.orders", ("2024-01-03",)), (warehouse, "main.products", ("-",))}
    revenue = complete["daily_revenue"]
    assert [
        (i.name, i.inputFacets["assetflow_partitions"]["partitions"]) for i in revenue.inputs
    ] == [  # type: ignore[index]
        ("main.orders_cleaned", ["2024-01-03"])
    ]
    (output,) = revenue.outputs
    assert (output.namespace, output.name) == (warehouse, "main.daily_revenue")
    assert output.outputFacets["outputStatistics"].rowCount == 1  # type: ignore[index]
    columns = [f.name for f in output.facets["schema"].fields]  # type: ignore[index]
    assert columns == ["order_date", "revenue", "orders"]


def test_kafka_without_its_package_says_so_without_a_traceback(
    make_project: ProjectFactory,
) -> None:
    import importlib.util

    if importlib.util.find_spec("confluent_kafka") is not None:
        pytest.skip("confluent-kafka is installed here")
    transport = '{ type = "kafka", topic = "lineage", config = { "bootstrap.servers" = "x:9" } }'
    code, _, err = run_cli(["list"], make_project(lineage_toml(transport), pipeline=PIPELINE))
    assert code == 2
    assert "type 'kafka' needs a package that is not installed" in err
    assert "Traceback" not in err
