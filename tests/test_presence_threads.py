"""The damaged-data look of several threads of one process at once.

The look works in a cursor of the state file's read connection (:meth:`StateStore.scratch`),
and attaches the warehouse there: to the one DuckDB database every reader of the state file in
the process shares (DuckDB keeps one instance per file). Threads looking at once must each
find exactly the damage; each attaches under a name of its own (today the store's per-file
lock also keeps their connections apart in time).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest
from helpers import run_cli, write_project

from assetflow.application.project import Project

PROJECT = """
[project]
name = "t"
modules = []

[assets.numbers]
sql = "select {{ partition_key }} as day, range as n from range(3)"
partitions = { daily = { start = "2024-01-01", end = "2024-01-05" } }

[assets.total]
sql = "select sum(n) as total from numbers"
"""


def test_threads_looking_at_once_each_find_exactly_the_damage(
    tmp_path: Path, clean_imports: None
) -> None:
    root = write_project(tmp_path / "project", PROJECT)
    code, _, err = run_cli(["materialize", "*"], root)
    assert code == 0, err
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute("DELETE FROM numbers WHERE _partition = '2024-01-02'")
    project = Project.load(root)

    def not_fresh() -> dict[str, list[str]]:
        return {
            f"{r.asset}[{r.partition}]": [reason.kind.value for reason in r.reasons]
            for r in project.status()
            if r.status.value != "fresh"
        }

    expected = {"numbers[2024-01-02]": ["data_missing"], "total[-]": ["upstream_stale"]}
    assert not_fresh() == expected
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: not_fresh(), range(16)))
    assert found == [expected] * 16


@pytest.mark.parametrize("with_session", [True, False])
def test_the_scratch_has_temporary_tables_of_its_own(
    tmp_path: Path, clean_imports: None, with_session: bool
) -> None:
    root = write_project(tmp_path / "project", PROJECT)
    code, _, err = run_cli(["materialize", "numbers", "--partition", "2024-01-01"], root)
    assert code == 0, err
    store = Project.load(root).store
    session = store.reading_session() if with_session else None
    if session is not None:
        session.__enter__()
    try:
        with store.scratch() as one, store.scratch() as other:
            one.execute("CREATE TEMP TABLE made AS SELECT 1 AS x")
            other.execute("CREATE TEMP TABLE made AS SELECT 2 AS x")
            assert one.execute("SELECT x FROM made").fetchall() == [(1,)]
            assert other.execute("SELECT x FROM made").fetchall() == [(2,)]
        with store.scratch() as again:
            assert again.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE temporary"
            ).fetchall() == [(0,)]
    finally:
        if session is not None:
            session.__exit__(None, None, None)
