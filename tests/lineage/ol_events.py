"""Helpers of the OpenLineage tests: a real HTTP receiver on 127.0.0.1, and events parsed back
into the ``openlineage-python`` client's own models (whose validators check run ids are UUIDs
and event times are date-times)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    error_message_run,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
)


@dataclass
class Receiver:
    """Every JSON body POSTed to it, in arrival order."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.bodies)


def receive() -> Iterator[Receiver]:
    """A receiver in a thread; shut down afterwards."""
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.bodies.append(json.loads(raw))
                state.paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def parse(body: dict[str, Any]) -> RunEvent:
    """``body`` as the client's RunEvent, with the standard facets assetflow sends as the
    client's facet classes (an unknown key or a wrong type raises)."""
    run = body["run"]
    facets: dict[str, Any] = dict(run["facets"])
    parent = facets["parent"]
    facets["parent"] = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent["run"]["runId"]),
        job=parent_run.Job(namespace=parent["job"]["namespace"], name=parent["job"]["name"]),
    )
    if "errorMessage" in facets:
        error = facets["errorMessage"]
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error["message"], programmingLanguage=error["programmingLanguage"]
        )
    outputs = []
    for output in body["outputs"]:
        dataset_facets: dict[str, Any] = dict(output.get("facets") or {})
        if "schema" in dataset_facets:
            dataset_facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f["type"])
                    for f in dataset_facets["schema"]["fields"]
                ]
            )
        output_facets: dict[str, Any] = dict(output.get("outputFacets") or {})
        if "outputStatistics" in output_facets:
            stats = output_facets["outputStatistics"]
            output_facets["outputStatistics"] = (
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=stats["rowCount"]
                )
            )
        outputs.append(
            OutputDataset(
                namespace=output["namespace"],
                name=output["name"],
                facets=dataset_facets,
                outputFacets=output_facets,
            )
        )
    return RunEvent(
        eventType=RunState(body["eventType"]),
        eventTime=body["eventTime"],
        run=Run(runId=run["runId"], facets=facets),
        job=Job(namespace=body["job"]["namespace"], name=body["job"]["name"]),
        inputs=[
            InputDataset(
                namespace=i["namespace"], name=i["name"], inputFacets=i.get("inputFacets") or {}
            )
            for i in body["inputs"]
        ],
        outputs=outputs,
        producer=body["producer"],
    )


def by_job(events: list[RunEvent]) -> dict[str, list[str]]:
    """Event types per job name, in order."""
    found: dict[str, list[str]] = {}
    for event in events:
        assert event.eventType is not None
        found.setdefault(event.job.name, []).append(event.eventType.value)
    return found
