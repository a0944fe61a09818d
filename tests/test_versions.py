"""Code versions: syntax-tree hashes for Python, normalized text for SQL; SQL table scanning."""

from __future__ import annotations

import textwrap

from assetflow.definitions.versions import (
    function_code_version,
    normalize_sql,
    sql_code_version,
    sql_template_variables,
)


def _define(source: str):
    """Compile a function from source the way a module would, with a real file for inspect."""
    import importlib.util
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    path = folder / "mod.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(f"mod_{abs(hash(source))}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


BASE = """
def f(context, orders):
    return orders.filter("amount > 0")
"""


def test_comments_formatting_and_docstring_do_not_change_the_version() -> None:
    reformatted = '''
    def f(context,
          orders):   # the cleaned orders
        """Now with a docstring."""
        # and a comment
        return orders.filter(
            "amount > 0"
        )
    '''
    assert function_code_version(_define(BASE)) == function_code_version(_define(reformatted))


def test_decorators_do_not_change_the_version() -> None:
    decorated = """
    import functools

    @functools.lru_cache
    def f(context, orders):
        return orders.filter("amount > 0")
    """
    assert function_code_version(_define(BASE)) == function_code_version(
        _define(decorated).__wrapped__
    )


def test_a_change_in_logic_changes_the_version() -> None:
    changed = """
    def f(context, orders):
        return orders.filter("amount >= 0")
    """
    renamed_param = """
    def f(context, orders_cleaned):
        return orders_cleaned.filter("amount > 0")
    """
    versions = {function_code_version(_define(source)) for source in (BASE, changed, renamed_param)}
    assert len(versions) == 3


def test_sql_normalization_ignores_comments_case_and_whitespace_but_not_literals() -> None:
    a = "SELECT order_date, SUM(amount)  -- revenue\nFROM orders_cleaned /* all */ GROUP BY 1;"
    b = "select order_date,\n  sum(amount) from orders_cleaned group by 1"
    assert normalize_sql(a) == normalize_sql(b)
    assert sql_code_version(a) == sql_code_version(b)
    assert sql_code_version("select 'Paid'") != sql_code_version("select 'paid'")


def test_template_variables_in_order() -> None:
    sql = "select * from t where d >= {{ start }} and d < {{end}} and k = {{ start }}"
    assert sql_template_variables(sql) == ["start", "end"]


def _load_versions(root, source: str) -> dict[str, str]:
    """Load a one-module project with ``source`` in a fresh process; each asset's code version.

    A fresh process each time: one process does not re-import a module it has imported.
    """
    import json
    import subprocess
    import sys

    from helpers import write_project

    write_project(root, pipeline=source)
    script = (
        "import json, sys; from assetflow.application.project import Project; "
        "print(json.dumps({n: d.code_version for n, d in "
        "Project.load(sys.argv[1]).graph.assets.items()}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def test_the_code_version_cache_is_keyed_by_content_and_written_once_the_state_folder_exists(
    tmp_path,
) -> None:
    import json

    first = "from assetflow import asset\n\n@asset\ndef a():\n    return 1\n"
    uncached = _load_versions(tmp_path, first)
    cache = tmp_path / ".assetflow" / "code_versions.json"
    assert not cache.exists()  # a read-only command does not create the state folder

    (tmp_path / ".assetflow").mkdir()
    assert _load_versions(tmp_path, first) == uncached
    document = json.loads(cache.read_text())
    assert [list(v.values()) for v in document["files"].values()] == [[uncached["a"]]]

    # Same size, same line, another statement: a timestamp-keyed cache could miss this.
    changed = first.replace("return 1", "return 2")
    assert len(changed) == len(first)
    again = _load_versions(tmp_path, changed)
    assert again["a"] != uncached["a"]
    assert again == _load_versions(tmp_path, changed)  # now from the cache, same answer
    assert len(json.loads(cache.read_text())["files"]) == 1  # the old content's entry is gone

    cache.write_text("not json")  # a damaged cache is an empty one, then rewritten
    assert _load_versions(tmp_path, changed) == again
    assert json.loads(cache.read_text())["files"]
