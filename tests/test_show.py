"""``assetflow show`` (issue 17, item 3): the rows a stored partition holds, from the warehouse
(``io="duckdb"``) and from Parquet files, as a table, JSON or CSV, through the real CLI; and the
value formatting those use, over odd strings (hypothesis)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import ProjectFactory, cli_env, run_cli
from hypothesis import given
from hypothesis import strategies as st

from assetflow.views.data import cell, csv_text, json_value

PIPELINE = """
import pyarrow as pa
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-05")
ODD = ["plain", "comma, inside", 'quote " inside', "new\\nline", "tab\\there", "ünïcødé ✓ 🎉",
       "", None, "back\\\\slash", "\\r\\ncrlf", "=1+2", "  padded  "]

@asset(partitions=DAYS)
def events(context):
    day = context.partition_key
    return pa.table({
        "day": [day] * 25,
        "i": list(range(25)),
        "text": [ODD[i % len(ODD)] for i in range(25)],
    })

@asset(partitions=DAYS, io="parquet")
def files(events):
    return events

@asset(io="none")
def nothing():
    return None

@asset
def numbers(context):
    return context.warehouse.sql(
        "select 1.25::decimal(10, 2) as price, 'nan'::double as ratio, "
        "date '2024-01-02' as day, [1, 2] as list, NULL as missing"
    )
"""
ODD = [
    "plain",
    "comma, inside",
    'quote " inside',
    "new\nline",
    "tab\there",
    "ünïcødé ✓ 🎉",
    "",
    None,
    "back\\slash",
    "\r\ncrlf",
    "=1+2",
    "  padded  ",
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with two days of ``events`` and ``files`` and ``numbers`` materialized, the
    second day last."""
    from helpers import write_project

    folder = write_project(tmp_path_factory.mktemp("show"), pipeline=PIPELINE)
    for args in (["numbers"], ["files", "--partition", "2024-01-01"]):
        code, _, err = run_cli(["materialize", *args], folder)
        assert code == 0, err
    code, _, err = run_cli(["materialize", "files", "--partition", "2024-01-02"], folder)
    assert code == 0, err
    return folder


def ok(folder: Path, *args: str) -> tuple[str, str]:
    code, out, err = run_cli(["show", *args], folder)
    assert code == 0, err
    assert "Traceback" not in err
    return out, err


def expected_texts(count: int) -> list[str | None]:
    return [ODD[i % len(ODD)] for i in range(count)]


@pytest.mark.parametrize("asset", ["events", "files"])
def test_json_holds_the_rows_as_stored(shop: Path, asset: str) -> None:
    out, _ = ok(shop, asset, "2024-01-01", "--json")
    rows = json.loads(out)
    assert len(rows) == 20  # the default limit
    assert [row["i"] for row in rows] == list(range(20))
    assert [row["text"] for row in rows] == expected_texts(20)
    assert {row["day"] for row in rows} == {"2024-01-01"}
    assert list(rows[0]) == ["day", "i", "text"]  # never the _partition bookkeeping column


@pytest.mark.parametrize("asset", ["events", "files"])
def test_csv_reads_back_as_it_was(shop: Path, asset: str) -> None:
    # Read as bytes: text mode would turn the "\r\n" inside a value into "\n".
    args = ["show", asset, "2024-01-01", "--csv", "--limit", "100"]
    completed = subprocess.run(
        [sys.executable, "-m", "assetflow", *args], cwd=shop, capture_output=True, env=cli_env()
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == 25
    assert [row["text"] for row in rows] == [t if t is not None else "" for t in expected_texts(25)]


def test_limit_and_the_latest_partition(shop: Path) -> None:
    out, _ = ok(shop, "events", "2024-01-01", "--json", "-n", "0")
    assert json.loads(out) == []
    out, err = ok(shop, "files", "--json", "--limit", "3")
    assert [row["day"] for row in json.loads(out)] == ["2024-01-02"] * 3
    assert "files[2024-01-02]: the latest materialized partition" in err


def test_the_table_for_people(shop: Path) -> None:
    out, _ = ok(shop, "events", "2024-01-01", "--limit", "12")
    lines = out.splitlines()
    assert lines[0].startswith("events[2024-01-01] (materialized ")
    assert "table events in" in lines[0]
    assert lines[1].split() == ["day", "i", "text"]
    assert len(lines) == 1 + 1 + 12 + 1  # title, header, rows, count: line breaks escaped
    assert "new\\nline" in out and "tab\\there" in out and "NULL" in out
    assert lines[-1] == "12 of 25 row(s); --limit 25 shows all"


def test_values_of_other_types(shop: Path) -> None:
    (row,) = json.loads(ok(shop, "numbers", "--json")[0])
    assert row == {
        "price": "1.25",
        "ratio": "nan",
        "day": "2024-01-02",
        "list": [1, 2],
        "missing": None,
    }
    out, _ = ok(shop, "numbers", "--csv")
    assert out.splitlines() == ["price,ratio,day,list,missing", '1.25,nan,2024-01-02,"[1, 2]",']


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evnts"], "unknown asset 'evnts' (did you mean: events?)"),
        (["events", "2024-01-03"], "partition '2024-01-03' was never materialized"),
        (["events", "2024-13-01"], "'2024-13-01'"),
        (["nothing"], 'has io = "none": its values are not stored'),
        (["numbers", "2024-01-01"], "asset 'numbers' is not partitioned"),
        (["events", "--json", "--csv"], "give either --json or --csv"),
    ],
)
def test_errors_exit_2_with_one_message(shop: Path, args: list[str], message: str) -> None:
    code, out, err = run_cli(["show", *args], shop)
    assert code == 2, out
    assert message in err
    assert "Traceback" not in err


def test_a_partition_whose_file_is_gone(make_project: ProjectFactory) -> None:
    folder = make_project(pipeline=PIPELINE)
    code, _, err = run_cli(["materialize", "files", "--partition", "2024-01-03"], folder)
    assert code == 0, err
    (folder / "data" / "files" / "2024-01-03.parquet").unlink()
    code, _, err = run_cli(["show", "files", "2024-01-03"], folder)
    assert code == 2
    assert "2024-01-03.parquet is gone" in err


# -- formatting, over odd strings -----------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
VALUES = st.one_of(
    st.none(),
    TEXT,
    st.integers(),
    st.floats(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.lists(TEXT, max_size=3),
)


@given(st.lists(st.lists(st.one_of(st.none(), TEXT), min_size=2, max_size=2), max_size=5))
def test_csv_reads_back_any_strings(rows: list[list[str | None]]) -> None:
    text = csv_text(["a", "b"], rows)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == ["a", "b"]
    assert parsed[1:] == [["" if v is None else v for v in row] for row in rows]


@given(VALUES)
def test_json_values_survive_a_round_trip(value: Any) -> None:
    converted = json_value(value)
    assert json.loads(json.dumps(converted)) == converted
    if isinstance(value, str | int) or value is None:
        assert converted == value
    if isinstance(value, Decimal):
        assert Decimal(converted) == value


@given(VALUES, st.integers(min_value=4, max_value=60))
def test_a_cell_is_one_line_of_bounded_width(value: Any, width: int) -> None:
    shown = cell(value, width)
    assert len(shown) <= width
    assert shown.isprintable()  # no line breaks, controls or invisible characters


@given(TEXT)
def test_a_short_cell_says_what_the_string_holds(value: str) -> None:
    shown = cell(value, 1000)
    if value.isprintable() and "\\" not in value:
        assert shown == value
    else:  # escaped, and the escapes read back as the string
        assert shown != value
        assert shown.encode("ascii", "backslashreplace").decode("unicode_escape") == value
