"""The TOML shapes of ``partitions = {...}`` and ``deps = {...}``, and the definitions they declare.

The pydantic models here validate the shape (as part of :mod:`assetflow.config.models`); the
functions of :mod:`assetflow.config.spec_building` turn them into the same objects a Python
declaration builds, so SQL assets and Python assets are indistinguishable downstream. Errors name
the TOML key path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import field_validator, model_validator

from assetflow.config.fields import (
    DateText,
    Name,
    Problems,
    Section,
    Text,
    Timezone,
    numeric,
    raise_any,
    show_value,
    unknown_key,
)
from assetflow.config.section_reads import PARTITION_KINDS, PartitionsSpecReads
from assetflow.config.spec_building import mapping_from_spec as mapping_from_spec
from assetflow.config.spec_building import partitions_from_spec as partitions_from_spec
from assetflow.partitions.core import static_key_problem

# --- The TOML shapes (validated by pydantic in assetflow.config.models) ----------------------


class TimeWindowSpec(Section):
    """The table of an hourly/daily/weekly/monthly spec; dates are kept as ISO text."""

    start: DateText
    end: DateText | None = None
    timezone: Timezone | None = None


class PartitionsSpec(Section, PartitionsSpecReads):
    """``partitions = {...}``: exactly one of the four time kinds, ``static`` or ``multi``."""

    hourly: TimeWindowSpec | None = None
    daily: TimeWindowSpec | None = None
    weekly: TimeWindowSpec | None = None
    monthly: TimeWindowSpec | None = None
    static: list[str] | None = None
    multi: dict[Name, PartitionsSpec] | None = None

    @field_validator("static")
    @classmethod
    def _static_keys(cls, keys: list[str]) -> list[str]:
        problems: Problems = [] if keys else [((), "expected at least one partition key")]
        for index, key in enumerate(keys):
            problem = static_key_problem(key)
            if problem is not None:
                problems.append(((index,), f"partition key {key!r} {problem}"))
            elif key in keys[:index]:
                problems.append(((index,), f"duplicate partition key {key!r}"))
        raise_any(problems)
        return keys

    @model_validator(mode="after")
    def _exactly_one(self) -> PartitionsSpec:
        given = [kind for kind in PARTITION_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            got = " and ".join(given) or "none"
            raise ValueError(f"expected exactly one of {', '.join(PARTITION_KINDS)}; got {got}")
        if self.multi is not None:
            problems: Problems = [
                (("multi", name), "a dimension of multi partitions cannot be multi itself")
                for name, spec in self.multi.items()
                if spec.multi is not None
            ]
            if len(self.multi) < 2:
                problems.append((("multi",), "expected at least 2 dimensions"))
            raise_any(problems)
        return self


class TimeWindowMappingSpec(Section):
    """``time_window = { start_offset = -1, end_offset = -1 }``, offsets in partitions."""

    start_offset: Annotated[int, numeric(True, None)] = 0
    end_offset: Annotated[int, numeric(True, None)] = 0

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindowMappingSpec:
        if self.start_offset > self.end_offset:
            offsets = f"{self.start_offset} > {self.end_offset}"
            raise ValueError(f"start_offset must be <= end_offset, got {offsets}")
        return self


class MappingSpec(Section):
    """A partition mapping in ``deps``: ``"identity"``, ``"all"``, ``"last"``, or a table.

    ``kind`` says which; ``time_window`` or ``static`` holds a table form's parameters.
    """

    kind: Literal["identity", "all", "last", "time_window", "static"]
    time_window: TimeWindowMappingSpec | None = None
    static: dict[str, list[Text]] | None = None

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        expected = "expected 'identity', 'all', 'last', or a table with time_window or static"
        if isinstance(data, str):
            if data not in ("identity", "all", "last"):
                raise ValueError(f"unknown mapping {data!r}; {expected}")
            return {"kind": data}
        if isinstance(data, dict) and "kind" not in data:
            # The TOML table forms: exactly one table, whose key is the kind.
            tables = ["time_window", "static"]
            raise_any([((k,), unknown_key(k, tables)) for k in data if k not in tables])
            if len(data) != 1:
                raise ValueError("expected exactly one of time_window, static")
            return {"kind": next(iter(data)), **data}
        if not isinstance(data, dict | MappingSpec):
            raise ValueError(f"{expected}, got {show_value(data)}")
        return data  # the explicit form, MappingSpec(kind=..., ...)

    @model_validator(mode="after")
    def _parameters_match_kind(self) -> MappingSpec:
        for table in ("time_window", "static"):
            if (getattr(self, table) is None) == (self.kind == table):
                needed = "required" if self.kind == table else "not allowed"
                raise ValueError(f"{table} is {needed} with kind = {self.kind!r}")
        return self
