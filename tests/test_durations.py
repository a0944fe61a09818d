"""Durations: parsing the short forms, rejecting everything else, formatting back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from assetflow.definitions.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("26h", timedelta(hours=26)),
        ("30s", timedelta(seconds=30)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("1m500ms", timedelta(minutes=1, milliseconds=500)),
        ("250us", timedelta(microseconds=250)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        (" 45s ", timedelta(seconds=45)),
        ("0s", timedelta(0)),
        ("90", timedelta(seconds=90)),
        ("0.1", timedelta(milliseconds=100)),
        (90, timedelta(seconds=90)),
        (2.5, timedelta(seconds=2.5)),
        (0.1, timedelta(milliseconds=100)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_parse_accepts_short_forms_and_seconds(
    text: str | float | timedelta, expected: timedelta
) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "m", "10x", "10 minutes", "1H", "ten", "1h-5m", "1e3", "h1", "10m10m", "30m1h"],
)
def test_parse_rejects_other_strings(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", [-1, -0.5, "-5m", "-3", timedelta(seconds=-1)])
def test_parse_rejects_negative(value: str | float | timedelta) -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(value)


@pytest.mark.parametrize("value", [True, None, [1], float("nan"), float("inf")])
def test_parse_rejects_other_types(value: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)  # type: ignore[arg-type]


def test_parse_message_says_what_is_accepted() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration("10 minutes")
    message = str(info.value)
    assert "'10 minutes'" in message
    assert "10m" in message and "1h30m" in message


def test_parse_rejects_units_out_of_order() -> None:
    with pytest.raises(ValueError, match="largest to smallest"):
        parse_duration("30m1h")


def test_parse_rejects_overflow() -> None:
    with pytest.raises(ValueError, match="too large"):
        parse_duration("99999999999w")


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(hours=26), "1d2h"),
        (timedelta(weeks=2), "2w"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(seconds=1, microseconds=250), "1s250us"),
        (timedelta(minutes=-5), "-5m"),
    ],
)
def test_format_is_short(td: timedelta, text: str) -> None:
    assert format_duration(td) == text


@pytest.mark.parametrize(
    "td",
    [
        timedelta(0),
        timedelta(microseconds=1),
        timedelta(days=9, hours=3, minutes=2, seconds=1, milliseconds=7, microseconds=3),
        timedelta(weeks=52),
    ],
)
def test_format_round_trips(td: timedelta) -> None:
    assert parse_duration(format_duration(td)) == td
