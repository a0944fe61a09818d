"""Code versions: syntax-tree hashes for Python, normalized text for SQL; SQL table scanning."""

from __future__ import annotations

import textwrap

from assetflow.versions import (
    function_code_version,
    normalize_sql,
    sql_code_version,
    sql_table_references,
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


def test_sql_table_references_find_from_join_and_comma_lists_but_not_ctes() -> None:
    sql = """
    with recent as (select * from orders where order_date = {{ partition_key }}),
         big as (select * from recent where amount > 100)
    select * from big b
    join customers as c on c.id = b.customer_id
    left join main.products p using (product_id), regions r
    where exists (select 1 from refunds)
    """
    assert sql_table_references(sql) == {
        "orders",
        "customers",
        "products",
        "regions",
        "refunds",
    }


def test_template_variables_in_order() -> None:
    sql = "select * from t where d >= {{ start }} and d < {{end}} and k = {{ start }}"
    assert sql_template_variables(sql) == ["start", "end"]
