"""OpenLineage run events of step attempts, built with the ``openlineage-python`` client's own
models (imported here only: this module is loaded when ``[lineage.openlineage]`` is set).

One attempt is one OpenLineage *run* of the *job* named after the asset: a ``START`` event when
it starts, then ``COMPLETE`` or ``FAIL``. Its facets:

- run: ``parent`` (the assetflow run, as a run of the job named after the project),
  ``assetflow_attempt`` (run id, partition, attempt number, materialization id),
  ``errorMessage`` on ``FAIL``;
- job: ``jobType`` (``BATCH``, integration ``ASSETFLOW``, job type ``ASSET``);
- inputs: one dataset per upstream read, with the input facet ``assetflow_partitions``;
- output: the asset's dataset with the output facet ``assetflow_partitions`` (the partition
  written) and, on ``COMPLETE``, the ``schema`` facet and the ``outputStatistics`` facet
  (``rowCount``) when the IO manager knows them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    InputDatasetFacet,
    OutputDatasetFacet,
    RunFacet,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
)
from openlineage.client.uuid import generate_static_uuid

from assetflow import __version__
from assetflow.graph.asset_graph import AssetGraph
from assetflow.lineage_export.datasets import DatasetNames
from assetflow.records import StepStatus
from assetflow.runner.events import AttemptEvent

__all__ = [
    "PRODUCER",
    "AttemptRunFacet",
    "PartitionsInputFacet",
    "PartitionsOutputFacet",
    "attempt_run_event",
    "run_uuid",
]

PRODUCER = f"urn:assetflow:{__version__}"
_SCHEMA = "urn:assetflow:openlineage-facets:1"
_ASSETFLOW = UUID("7e2b4a6c-0f1d-4c1e-9a53-5b0a2f9d8e61")  # uuid5 namespace of fallbacks


@attr.define
class PartitionsInputFacet(InputDatasetFacet):
    """``assetflow_partitions`` of an input: the partition keys the attempt read of it."""

    partitions: list[str] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return f"{_SCHEMA}#/$defs/PartitionsInputFacet"


@attr.define
class PartitionsOutputFacet(OutputDatasetFacet):
    """``assetflow_partitions`` of the output: the partition key the attempt writes."""

    partitions: list[str] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return f"{_SCHEMA}#/$defs/PartitionsOutputFacet"


@attr.define
class AttemptRunFacet(RunFacet):
    """``assetflow_attempt``: which assetflow run, partition and attempt this run is."""

    runId: str  # OpenLineage spells fields in camel case
    partition: str
    attempt: int
    materializationId: int

    @staticmethod
    def _get_schema() -> str:
        return f"{_SCHEMA}#/$defs/AttemptRunFacet"


def run_uuid(instant: datetime, key: str) -> str:
    """A stable run id: the client's UUIDv7 of an instant and a key (the same arguments always
    give the same id)."""
    try:
        return str(generate_static_uuid(instant, key.encode("utf-8")))
    except Exception:  # an instant the client cannot encode: still stable
        return str(uuid5(_ASSETFLOW, key))


def attempt_run_event(
    event: AttemptEvent,
    *,
    run_id: str,
    parent_run_id: str,
    project: str,
    namespace: str,
    graph: AssetGraph,
    names: DatasetNames,
) -> RunEvent:
    """The ``START`` (``event.status`` is None), ``COMPLETE`` or ``FAIL`` event of an attempt."""
    state = {
        None: RunState.START,
        StepStatus.SUCCESS: RunState.COMPLETE,
        StepStatus.FAILED: RunState.FAIL,
    }[event.status]
    run_facets: dict[str, Any] = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent_run_id),
            job=parent_run.Job(namespace=namespace, name=project),
            producer=PRODUCER,
        ),
        "assetflow_attempt": AttemptRunFacet(
            runId=event.run_id,
            partition=event.partition,
            attempt=event.attempt,
            materializationId=event.attempt_id,
            producer=PRODUCER,
        ),
    }
    if event.status is StepStatus.FAILED:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=event.error or "failed", programmingLanguage="PYTHON", producer=PRODUCER
        )
    job_facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="ASSETFLOW", jobType="ASSET", producer=PRODUCER
        )
    }
    inputs = []
    for upstream, partitions in event.reads:
        space, name = names.of(graph[upstream])
        facet = PartitionsInputFacet(partitions=list(partitions), producer=PRODUCER)
        inputs.append(
            InputDataset(namespace=space, name=name, inputFacets={"assetflow_partitions": facet})
        )
    return RunEvent(
        eventType=state,
        eventTime=event.at.isoformat(),
        run=Run(runId=run_id, facets=run_facets),
        job=Job(namespace=namespace, name=event.asset, facets=job_facets),
        inputs=inputs,
        outputs=[_output(event, graph, names)],
        producer=PRODUCER,
    )


def _output(event: AttemptEvent, graph: AssetGraph, names: DatasetNames) -> OutputDataset:
    space, name = names.of(graph[event.asset])
    facets: dict[str, Any] = {}
    output_facets: dict[str, Any] = {
        "assetflow_partitions": PartitionsOutputFacet(
            partitions=[event.partition], producer=PRODUCER
        )
    }
    if event.schema is not None:
        fields = [
            schema_dataset.SchemaDatasetFacetFields(name=column, type=kind)
            for column, kind in event.schema
        ]
        facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=fields, producer=PRODUCER)
    if event.row_count is not None:
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=event.row_count, producer=PRODUCER
            )
        )
    return OutputDataset(namespace=space, name=name, facets=facets, outputFacets=output_facets)
