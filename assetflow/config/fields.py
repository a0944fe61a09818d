"""Field types of `assets.toml` whose errors read in TOML terms, and the error report.

Shared by the models in :mod:`assetflow.config.models`; ``validate_cron`` and
``validate_timezone`` are also used for declarations made in Python.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)

from assetflow.config.reading import display_path as display_path
from assetflow.definitions.durations import parse_duration
from assetflow.errors import did_you_mean
from assetflow.sql.names import split_table_name

Loc = tuple[str | int, ...]
Problems = list[tuple[Loc, str]]
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
ASSET_NAME_RULE = "letters, digits and underscores, not starting with a digit"
# Keys that would put a secret into a file that is usually committed.
SECRET_KEYS = ("routing_key", "token", "api_key", "password", "secret")
# Where the search for a cron expression's first tick starts (see validate_cron).
CRON_PROBE_START = datetime(2001, 1, 1)


class Located(ValueError):
    """Problems at paths relative to the value being validated; the formatter prefixes them."""

    def __init__(self, items: Problems) -> None:
        super().__init__("; ".join(message for _, message in items))
        self.items = items


def raise_any(problems: Problems) -> None:
    if problems:
        raise Located(problems)


def show_value(value: object) -> str:
    """A value as the user wrote it in TOML, shortened."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- Field types whose errors read in TOML terms ----------------------------------------------


def rule(test: Callable[[str], object], problem: str) -> AfterValidator:
    """A string check; ``problem`` may use ``{value!r}``."""

    def check(value: str) -> str:
        if not test(value):
            raise ValueError(problem.format(value=value))
        return value

    return AfterValidator(check)


def numeric(integer: bool, low: float | None, high: float | None = None) -> BeforeValidator:
    """An integer or number within [low, high]; ``low=None`` with integer means any integer."""
    what = "an integer" if integer else "a number"
    bound = "" if low is None else f" >= {low:g}" if high is None else f" in [{low:g}, {high:g}]"

    def check(value: object) -> object:
        # bool is an int subclass, but `workers = true` is a mistake, as is "4" in quotes.
        kinds = int if integer else int | float
        # inf and nan pass a range check (or slip through it) and fail later, mid-run.
        ok = isinstance(value, kinds) and not isinstance(value, bool)
        ok = ok and (isinstance(value, int) or math.isfinite(value))  # type: ignore[arg-type]
        if not ok or not (low is None or low <= value) or not (high is None or value <= high):  # type: ignore[operator]
            raise ValueError(f"expected {what}{bound}, got {show_value(value)}")
        return value if integer else float(value)  # type: ignore[arg-type]

    return BeforeValidator(check)


def positive_float(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"expected a number > 0, got {show_value(value)}")
    return float(value)


def validate_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown timezone {value!r} (expected an IANA name like 'Europe/Paris')"
            + did_you_mean(value, available_timezones())
        ) from None
    return value


def validate_cron(value: str) -> str:
    fields = value.split()
    # croniter also takes 6 and 7 fields (seconds, years); schedules here tick per minute.
    if not value.strip().startswith("@") and len(fields) != 5:
        raise ValueError(
            f"invalid cron expression {value!r} (expected 5 fields: minute hour day-of-month "
            f"month day-of-week, got {len(fields)})"
        )
    try:
        croniter(value)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"invalid cron expression {value!r} ({exc})") from None
    # croniter parses days that no month has (``0 0 31 2 *``) and then fails on the first
    # tick asked of it, in `schedules` or the scheduler. Weekdays and leap days repeat every
    # 28 years, well within the 50 years croniter searches: an expression that finds no tick
    # after a fixed start never fires at all.
    try:
        croniter(value, CRON_PROBE_START).get_next()
    except CroniterBadDateError:
        never = "no date matches its day-of-month, month and day-of-week fields"
        raise ValueError(f"cron expression {value!r} never fires ({never})") from None
    return value


def duration_value(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, str | int | float | timedelta):
        raise ValueError(f"expected a duration like '10m' or seconds, got {show_value(value)}")
    result = parse_duration(value)
    if result <= timedelta(0):
        raise ValueError(f"expected a positive duration, got {show_value(value)}")
    return result


def date_text(value: object) -> object:
    # Unquoted TOML dates arrive as date/datetime; partition code wants their ISO text.
    if isinstance(value, datetime):
        spec = "minutes" if value.second == value.microsecond == 0 else "auto"
        return value.isoformat(timespec=spec)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        raise ValueError(f"expected a date like '2024-01-01', got the time {value.isoformat()}")
    return value


Text = Annotated[str, rule(str.strip, "must not be empty")]
Name = Annotated[
    str, rule(IDENTIFIER.fullmatch, "invalid name {value!r} (" + ASSET_NAME_RULE + ")")
]
AssetName = Annotated[
    str, rule(IDENTIFIER.fullmatch, "invalid asset name {value!r} (" + ASSET_NAME_RULE + ")")
]
ModuleName = Annotated[
    str,
    rule(
        lambda v: all(part.isidentifier() for part in v.split(".")),
        "invalid module name {value!r} (expected a dotted name like 'shop.assets')",
    ),
]
EnvName = Annotated[str, rule(IDENTIFIER.fullmatch, "invalid environment variable name {value!r}")]
Url = Annotated[
    str,
    rule(lambda v: v.startswith(("http://", "https://")), "expected an http(s) URL, got {value!r}"),
]
Timezone = Annotated[str, AfterValidator(validate_timezone)]
Cron = Annotated[str, AfterValidator(validate_cron)]
Duration = Annotated[timedelta, BeforeValidator(duration_value)]
DateText = Annotated[str, BeforeValidator(date_text), rule(str.strip, "must not be empty")]
# A table another system makes, as SQL names it: `legacy_rates`, `raw.payments`, `"raw"."Pay"`.
ExternalTable = Annotated[
    str,
    rule(
        split_table_name,
        "invalid table name {value!r} (expected one to three dot-separated names, like "
        "'legacy_rates' or 'raw.payments')",
    ),
]


class Section(BaseModel):
    """Base of every table: frozen, strict (TOML types are exact), unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        data = cls._prepare(data)
        if isinstance(data, dict):
            # Checked here, not left to extra="forbid", so that the message lists the keys.
            allowed = list(cls.model_fields)
            raise_any([((k,), unknown_key(k, allowed)) for k in data if k not in allowed])
        return data

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        """Hook for tables that accept a shorthand or need a special message."""
        return data


def unknown_key(key: str, allowed: list[str]) -> str:
    message = f"unknown key (expected one of: {', '.join(allowed)})"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return message + (f"; did you mean '{close[0]}'?" if close else "")


TYPE_MESSAGES = {
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "list_type": "expected an array",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "int_type": "expected an integer",
    "float_type": "expected a number",
}


def flatten_errors(exc: ValidationError) -> Problems:
    """Every error of ``exc`` as (path, message in TOML terms)."""
    result: Problems = []
    for error in exc.errors():
        # "[key]" marks an error in a dict key rather than its value; the key names it well.
        loc: Loc = tuple(part for part in error["loc"] if part != "[key]")
        cause = (error.get("ctx") or {}).get("error")
        kind, got = error["type"], show_value(error.get("input"))
        if isinstance(cause, Located):
            result.extend(((*loc, *sub), message) for sub, message in cause.items)
        elif cause is not None:
            result.append((loc, str(cause)))
        elif kind == "missing":
            result.append((loc, "missing required key"))
        elif kind == "literal_error":
            result.append((loc, f"expected {error['ctx']['expected']}, got {got}"))
        elif kind in TYPE_MESSAGES:
            result.append((loc, f"{TYPE_MESSAGES[kind]}, got {got}"))
        else:
            result.append((loc, error["msg"]))
    return result


def render_key_path(loc: Loc) -> str:
    """A path as TOML would spell it: ``assets.orders.retries``, ``alerts[0].kind``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = part if BARE_KEY.fullmatch(part) else json.dumps(part)
            text += f".{key}" if text else key
    return text
