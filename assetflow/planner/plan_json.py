"""``plan --json`` written in pieces: the same text as ``json.dumps(document, indent=2)``,
without a dict per step of a step range or the whole text in memory at once.

A plan of a million missing partitions is a document of about 200 MB: each step of a
:class:`~assetflow.planner.steps.StepRange` is its step's text with the key put in, from one
template per range.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from assetflow.partitions.core import (
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowPartitions,
)
from assetflow.planner.plan import Plan
from assetflow.planner.steps import PlanStep, PlanSteps, StepRange

_MARKER = "\x00steps\x00"
_HOLE = "\x01"
_INDENT = "    "  # a step's lines within {"steps": [...]} at indent=2
CHUNK_KEYS = 4096  # steps of a range written at a time


def plan_json_chunks(plan: Plan, extra: Mapping[str, Any]) -> Iterator[str]:
    """The text of ``json.dumps({**plan.to_json(), **extra}, indent=2, default=str) + "\\n"``."""
    steps = plan.steps
    document = {
        "steps": [_MARKER] if steps else [],
        "count": len(steps),
        "estimated_seconds": plan.estimated_seconds,
        "waiting": [step.to_json() for step in plan.waiting],
        **extra,
    }
    text = json.dumps(document, indent=2, default=str)
    if not steps:
        yield text + "\n"
        return
    head, tail = text.split(_INDENT + json.dumps(_MARKER), 1)
    yield head
    segments = steps.segments if isinstance(steps, PlanSteps) else steps
    separator = ""
    for segment in segments:
        if isinstance(segment, PlanStep):
            yield separator + _step_text(segment.to_json())
        else:
            for piece in _range_texts(segment):
                yield separator + piece
                separator = ",\n"
        separator = ",\n"
    yield tail + "\n"


def _step_text(record: dict[str, Any]) -> str:
    return "\n".join(_INDENT + line for line in json.dumps(record, indent=2).split("\n"))


def _range_texts(segment: StepRange) -> Iterator[str]:
    """The steps of ``segment`` as text, joined by ",\\n", a chunk of keys at a time."""
    record = PlanStep(segment.asset, _HOLE, segment.status, segment.reasons).to_json()
    before, after = _step_text(record).split(json.dumps(_HOLE), 1)
    plain = _plain_keys(segment.keys.definition)
    if plain:
        before, after = before + '"', '"' + after
    between = after + ",\n" + before  # one join per chunk: before k1 after,\n before k2 after
    for chunk in segment.key_chunks(CHUNK_KEYS):
        keys = chunk if plain else [json.dumps(key) for key in chunk]
        yield before + between.join(keys) + after


def _plain_keys(definition: PartitionsDefinition) -> bool:
    """Whether every key of ``definition`` is written in JSON as itself between quotes."""
    if isinstance(definition, TimeWindowPartitions):
        return True  # digits, -, :, +, T
    if isinstance(definition, StaticPartitions):
        return all(_plain(key) for key in definition.partition_keys)
    if isinstance(definition, MultiPartitions):
        return all(_plain_keys(dimension) for _, dimension in definition.dimensions)
    return False


def _plain(key: str) -> bool:
    return key.isascii() and key.isprintable() and '"' not in key and "\\" not in key
