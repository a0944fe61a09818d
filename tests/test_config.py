"""assets.toml: the SPEC example loads, and every bad input names the file and the key."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assetflow.config.alert_sections import PAGERDUTY_EVENTS_URL
from assetflow.config.models import (
    CONFIG_FILENAME,
    AssetSection,
    FreshnessSpec,
    ProjectConfig,
    ProjectSection,
    find_config,
    load_config,
)
from assetflow.config.partition_specs import MappingSpec, TimeWindowMappingSpec
from assetflow.errors import ConfigError

# The whole TOML block of SPEC section 3, verbatim.
SPEC_EXAMPLE = '''
[project]
name = "shop"
modules = ["examples.shop.assets"]       # modules whose @asset functions belong to the project,
                                          # imported with the project root first on sys.path
timezone = "UTC"                          # default for partitions and schedules

[storage]
state = ".assetflow/state.duckdb"         # run history, lineage, partition status
warehouse = "warehouse.duckdb"            # where the duckdb IO manager writes tables
data = "data/"                            # where the parquet IO manager writes files

[executor]
kind = "threads"                          # "threads" (default) | "processes" | "dask"
workers = 4
# address = "tcp://scheduler:8786"        # dask only; none starts a local cluster

[pools]
api = 2                                   # at most 2 partitions of assets with pool="api" at once

[assets.daily_revenue]                    # an asset declared in SQL
sql = """
select order_date, sum(amount) as revenue
from orders_cleaned group by order_date
"""
partitions = { daily = { start = "2024-01-01" } }
deps = ["orders_cleaned"]                 # optional: also found from the table names in the SQL

[assets.orders]                           # overrides for a Python asset
retries = { max_retries = 5, delay = 2.0 }
freshness = { max_lag = "26h" }

[schedules.nightly]
cron = "0 3 * * *"
timezone = "Asia/Seoul"
select = "+revenue_dashboard"

[[alerts]]
kind = "slack"                             # "slack" | "pagerduty" | "webhook"
on = ["failure", "freshness"]
url_env = "SLACK_WEBHOOK_URL"              # secrets come from the environment, never from this file

[[alerts]]
kind = "pagerduty"                         # url defaults to the Events API v2 endpoint
routing_key_env = "PD_ROUTING_KEY"
on = ["failure", "freshness", "recovered"]
'''

MINIMAL = '[project]\nname = "shop"\n'


def write(folder: Path, text: str) -> Path:
    path = folder / CONFIG_FILENAME
    path.write_text(text, encoding="utf-8")
    return path


def load(folder: Path, text: str) -> ProjectConfig:
    return load_config(write(folder, text))


def error(folder: Path, text: str) -> str:
    """The ConfigError message for ``text``, checked to be clean and to name the file."""
    with pytest.raises(ConfigError) as info:
        load(folder, text)
    message = str(info.value)
    assert CONFIG_FILENAME in message
    assert "pydantic" not in message and "validation error" not in message.lower()
    return message


# --- The good path ----------------------------------------------------------------------------


def test_spec_example_loads(tmp_path: Path) -> None:
    config = load(tmp_path, SPEC_EXAMPLE)
    assert config.path == tmp_path / CONFIG_FILENAME
    assert config.root == tmp_path
    assert config.project.name == "shop"
    assert config.project.modules == ["examples.shop.assets"]
    assert config.project.timezone == "UTC"
    assert config.state_path == tmp_path / ".assetflow" / "state.duckdb"
    assert config.warehouse_path == tmp_path / "warehouse.duckdb"
    assert config.data_path == tmp_path / "data"
    assert config.executor.kind == "threads" and config.executor.workers == 4
    assert config.pools == {"api": 2}

    revenue = config.assets["daily_revenue"]
    assert revenue.sql is not None and "sum(amount)" in revenue.sql
    assert revenue.partitions is not None and revenue.partitions.kind == "daily"
    assert revenue.partitions.time_window is not None
    assert revenue.partitions.time_window.start == "2024-01-01"
    assert revenue.deps == ["orders_cleaned"]

    orders = config.assets["orders"]
    assert orders.sql is None and orders.partitions is None and orders.timeout is None
    assert orders.retries is not None
    assert (orders.retries.max_retries, orders.retries.delay) == (5, 2.0)
    assert (orders.retries.backoff, orders.retries.jitter) == (1.0, 0.0)
    assert orders.freshness is not None and orders.freshness.max_lag == timedelta(hours=26)

    nightly = config.schedules["nightly"]
    assert (nightly.cron, nightly.timezone, nightly.select) == (
        "0 3 * * *",
        "Asia/Seoul",
        "+revenue_dashboard",
    )
    assert nightly.enabled

    slack, pagerduty = config.alerts
    assert slack.kind == "slack" and slack.on == ["failure", "freshness"]
    assert slack.url_env == "SLACK_WEBHOOK_URL" and slack.url is None
    assert pagerduty.routing_key_env == "PD_ROUTING_KEY"
    assert pagerduty.url == PAGERDUTY_EVENTS_URL
    assert pagerduty.on == ["failure", "freshness", "recovered"]


def test_minimal_config_has_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert config.project.modules == [] and config.project.timezone == "UTC"
    assert config.storage.state == ".assetflow/state.duckdb"
    assert config.executor.kind == "threads" and config.executor.address is None
    assert config.pools == {} and config.assets == {} and config.alerts == []


def test_config_built_in_code_belongs_to_the_current_folder() -> None:
    config = ProjectConfig(project=ProjectSection(name="x"))
    assert config.root == Path.cwd()


def test_load_config_accepts_the_project_folder(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL)
    assert load_config(tmp_path).path == tmp_path / CONFIG_FILENAME


def test_absolute_storage_paths_stay_absolute(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "wh.duckdb"
    config = load(tmp_path, MINIMAL + f'[storage]\nwarehouse = "{elsewhere.as_posix()}"\n')
    assert config.warehouse_path == elsewhere


def test_partitions_shapes_and_toml_dates(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        MINIMAL
        + """
[assets.hourly]
sql = "select 1"
partitions.hourly = { start = 2024-01-01T13:00:00, end = 2024-02-01, timezone = "Europe/Paris" }
[assets.regional]
sql = "select 1"
partitions.multi.date = { daily = { start = 2024-01-01 } }
partitions.multi.region = { static = ["eu", "us"] }
""",
    )
    hourly = config.assets["hourly"].partitions
    assert hourly is not None and hourly.hourly is not None
    assert (hourly.hourly.start, hourly.hourly.end) == ("2024-01-01T13:00", "2024-02-01")
    assert hourly.hourly.timezone == "Europe/Paris"
    regional = config.assets["regional"].partitions
    assert regional is not None and regional.kind == "multi" and regional.multi is not None
    assert regional.multi["region"].static == ["eu", "us"]
    assert regional.multi["date"].kind == "daily"


def test_mapping_specs(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        MINIMAL
        + """
[assets.rolled]
sql = "select 1"
deps.a = "identity"
deps.b = "all"
deps.c = "last"
deps.d.time_window = { start_offset = -7, end_offset = -1 }
deps.e.static = { eu = ["de", "fr"] }
""",
    )
    deps = config.assets["rolled"].deps
    assert isinstance(deps, dict)
    assert [deps[n].kind for n in "abcde"] == ["identity", "all", "last", "time_window", "static"]
    window = deps["d"].time_window
    assert window is not None and (window.start_offset, window.end_offset) == (-7, -1)
    assert deps["e"].static == {"eu": ["de", "fr"]}


def test_durations_accept_numbers_and_strings(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL + '[assets.a]\ntimeout = 90\n[assets.b]\ntimeout = "1h30m"\n')
    assert config.assets["a"].timeout == timedelta(seconds=90)
    assert config.assets["b"].timeout == timedelta(hours=1, minutes=30)


# --- find_config ------------------------------------------------------------------------------


def test_find_config_searches_upward(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_config(nested) == path
    assert find_config(tmp_path) == path
    assert find_config(path) == path


def test_find_config_defaults_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, MINIMAL)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert find_config() == path


def test_find_config_accepts_any_file_given(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(MINIMAL)
    assert find_config(other) == other


def test_find_config_not_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_config(tmp_path)
    message = str(info.value)
    assert f"no assets.toml found in {tmp_path} or any parent folder" in message
    assert "assetflow init" in message and "--project PATH" in message


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / CONFIG_FILENAME)


# --- Bad input: each names the file and the key -----------------------------------------------


def test_malformed_toml_names_line_and_column(tmp_path: Path) -> None:
    message = error(tmp_path, '[project]\nname = "shop"\n\n[executor]\nworkers 4\n')
    assert "invalid TOML at line 5, column" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + "[executer]\nworkers = 2\n")
    assert "assets.toml: executer: unknown key" in message
    assert "did you mean 'executor'" in message


def test_unknown_project_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    message = error(tmp_path, '[project]\nname = "shop"\nnmae = "x"\n')
    expected = "expected one of: name, modules, timezone, external, listeners"
    assert f"assets.toml: project.nmae: unknown key ({expected})" in message


def test_unknown_nested_key(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + "[assets.orders]\nretrys = { max_retries = 1 }\n")
    assert "assets.toml: assets.orders.retrys: unknown key" in message
    assert "did you mean 'retries'" in message


def test_unknown_key_deep_inside(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + "[assets.orders]\nretries = { max_retry = 1 }\n")
    assert "assets.orders.retries.max_retry: unknown key" in message


def test_wrong_type(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + '[executor]\nworkers = "four"\n')
    assert "assets.toml: executor.workers: expected an integer in [1, 1024], got 'four'" in message


def test_missing_required_key(tmp_path: Path) -> None:
    message = error(tmp_path, "[project]\nmodules = []\n")
    assert "project.name: missing required key" in message


def test_several_errors_one_per_line(tmp_path: Path) -> None:
    message = error(
        tmp_path, MINIMAL + '[executor]\nkind = "fibers"\nworkers = 0\n[pools]\napi = -1\n'
    )
    lines = message.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{tmp_path / CONFIG_FILENAME}: ") for line in lines)
    assert "executor.kind: expected 'threads', 'processes' or 'dask', got 'fibers'" in message
    assert "pools.api: expected an integer >= 1, got -1" in message


def test_unknown_project_timezone(tmp_path: Path) -> None:
    message = error(tmp_path, '[project]\nname = "shop"\ntimezone = "Mars/Base"\n')
    assert "project.timezone: unknown timezone 'Mars/Base'" in message


def test_unknown_schedule_timezone(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        MINIMAL + '[schedules.nightly]\ncron = "0 3 * * *"\nselect = "*"\ntimezone = "Asia/Seol"\n',
    )
    assert "schedules.nightly.timezone: unknown timezone 'Asia/Seol'" in message
    assert "Asia/Seoul" in message  # suggested


def test_unknown_partitions_timezone(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        MINIMAL + '[assets.a]\nsql = "select 1"\n'
        'partitions = { daily = { start = "2024-01-01", timezone = "Nowhere" } }\n',
    )
    assert "assets.a.partitions.daily.timezone: unknown timezone 'Nowhere'" in message


@pytest.mark.parametrize("cron", ["0 3 * *", "61 3 * * *", "0 3 * * * *"])
def test_invalid_cron(tmp_path: Path, cron: str) -> None:
    message = error(tmp_path, MINIMAL + f'[schedules.nightly]\ncron = "{cron}"\nselect = "*"\n')
    assert f"schedules.nightly.cron: invalid cron expression '{cron}' (" in message


def test_invalid_asset_schedule(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + '[assets.orders]\nschedule = "every day"\n')
    assert "assets.orders.schedule: invalid cron expression 'every day'" in message


def test_bad_duration(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        MINIMAL + '[assets.orders]\ntimeout = "10 minutes"\nfreshness = { max_lag = "soon" }\n',
    )
    assert "assets.orders.timeout: invalid duration '10 minutes'" in message
    assert "assets.orders.freshness.max_lag: invalid duration 'soon'" in message


def test_duration_must_be_positive(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + '[assets.orders]\ntimeout = "0s"\n')
    assert "assets.orders.timeout: expected a positive duration" in message


def test_invalid_asset_name(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + '[assets.daily-revenue]\nsql = "select 1"\n')
    assert "assets.daily-revenue: invalid asset name 'daily-revenue'" in message


def test_invalid_dependency_name(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + '[assets.a]\nsql = "select 1"\ndeps = ["ok", "not ok"]\n')
    assert "assets.a.deps[1]: invalid asset name 'not ok'" in message


def test_pool_not_declared(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + '[pools]\napi = 2\n[assets.orders]\npool = "apii"\n')
    assert "assets.orders.pool: asset 'orders' uses pool 'apii'" in message
    assert "not declared in [pools]" in message


def test_partitions_in_an_override(tmp_path: Path) -> None:
    message = error(
        tmp_path, MINIMAL + '[assets.orders]\npartitions = { daily = { start = "2024-01-01" } }\n'
    )
    assert "assets.orders.partitions: only allowed on a SQL asset" in message
    assert "cannot be overridden" in message


def test_deps_in_an_override(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + '[assets.orders]\ndeps = ["customers"]\n')
    assert "assets.orders.deps: only allowed on a SQL asset" in message


@pytest.mark.parametrize(
    ("partitions", "expected"),
    [
        ("{}", "assets.a.partitions: expected exactly one of"),
        (
            '{ daily = { start = "2024-01-01" }, static = ["eu"] }',
            "assets.a.partitions: expected exactly one of",
        ),
        ("{ static = [] }", "assets.a.partitions.static: expected at least one partition key"),
        ('{ static = ["eu", "eu"] }', "assets.a.partitions.static[1]: duplicate partition key"),
        ('{ multi = { r = { static = ["eu"] } } }', "partitions.multi: expected at least 2"),
        (
            '{ multi = { a = { static = ["x"] }, b = { multi = {} } } }',
            "assets.a.partitions.multi.b",
        ),
        ("{ daily = { end = 2024-02-01 } }", "assets.a.partitions.daily.start: missing"),
        ('{ yearly = { start = "2024" } }', "assets.a.partitions.yearly: unknown key"),
    ],
)
def test_bad_partitions(tmp_path: Path, partitions: str, expected: str) -> None:
    message = error(
        tmp_path, MINIMAL + f'[assets.a]\nsql = "select 1"\npartitions = {partitions}\n'
    )
    assert expected in message


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ('"newest"', "assets.a.deps.b: unknown mapping 'newest'"),
        ("{ time_window = { start_offset = 1, end_offset = 0 } }", "deps.b.time_window: start_"),
        ('{ time_window = { start_offset = "x" } }', "deps.b.time_window.start_offset: expected"),
        ("{ window = { start_offset = 1 } }", "assets.a.deps.b.window: unknown key"),
        ("3", "assets.a.deps.b: expected 'identity', 'all', 'last'"),
        ('{ kind = "static" }', "assets.a.deps.b: static is required with kind = 'static'"),
    ],
)
def test_bad_mappings(tmp_path: Path, mapping: str, expected: str) -> None:
    message = error(
        tmp_path, MINIMAL + f'[assets.a]\nsql = "select 1"\ndeps = {{ b = {mapping} }}\n'
    )
    assert expected in message


def test_bad_retries(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        MINIMAL + "[assets.a]\nretries = { max_retries = -1, backoff = 0.5, jitter = 2 }\n",
    )
    assert "assets.a.retries.max_retries: expected an integer >= 0, got -1" in message
    assert "assets.a.retries.backoff: expected a number >= 1, got 0.5" in message
    assert "assets.a.retries.jitter: expected a number in [0, 1], got 2" in message


def test_executor_address_needs_dask(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + '[executor]\naddress = "tcp://scheduler:8786"\n')
    assert 'executor.address: only allowed with kind = "dask"' in message
    config = load(tmp_path, MINIMAL + '[executor]\nkind = "dask"\naddress = "tcp://s:8786"\n')
    assert config.executor.address == "tcp://s:8786"


def test_invalid_module_name(tmp_path: Path) -> None:
    message = error(tmp_path, '[project]\nname = "shop"\nmodules = ["shop.assets", "shop/x"]\n')
    assert "project.modules[1]: invalid module name 'shop/x'" in message


@pytest.mark.parametrize("kind", ["slack", "webhook"])
def test_alert_without_url_env(tmp_path: Path, kind: str) -> None:
    message = error(tmp_path, MINIMAL + f'[[alerts]]\nkind = "{kind}"\n')
    assert f"alerts[0]: a {kind} alert needs url_env" in message


def test_pagerduty_alert_without_routing_key_env(tmp_path: Path) -> None:
    message = error(tmp_path, MINIMAL + '[[alerts]]\nkind = "pagerduty"\n')
    assert "alerts[0]: a pagerduty alert needs routing_key_env" in message


@pytest.mark.parametrize(
    ("kind", "key", "variant"),
    [("pagerduty", "routing_key", "routing_key_env"), ("slack", "token", "url_env")],
)
def test_secret_in_file(tmp_path: Path, kind: str, key: str, variant: str) -> None:
    message = error(
        tmp_path,
        MINIMAL + f'[[alerts]]\nkind = "{kind}"\nurl_env = "X"\n{key} = "s3cr3t"\n',
    )
    assert f"alerts[0].{key}: secrets do not belong in assets.toml" in message
    assert variant in message
    assert "s3cr3t" not in message


def test_alert_details(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        MINIMAL
        + '[[alerts]]\nkind = "slack"\nurl_env = "OK"\n'
        + '[[alerts]]\nkind = "webhook"\nurl = "ftp://x"\non = ["failure", "boom"]\n',
    )
    assert "alerts[1].url: expected an http(s) URL" in message
    assert "alerts[1].on[1]: expected 'failure', 'freshness' or 'recovered', got 'boom'" in message


def test_error_names_the_file_by_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    write(project, MINIMAL + '[executor]\nworkers = "four"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(project / CONFIG_FILENAME)
    assert str(info.value).startswith(os.path.join("shop", CONFIG_FILENAME) + ": executor.workers")


def test_sections_can_be_built_in_code() -> None:
    window = TimeWindowMappingSpec(start_offset=-1, end_offset=-1)
    section = AssetSection(
        sql="select 1",
        deps={
            "a": MappingSpec(kind="time_window", time_window=window),
            "b": MappingSpec(kind="all"),
        },
        timeout=timedelta(minutes=1),
        freshness=FreshnessSpec(max_lag=timedelta(hours=1)),
    )
    assert isinstance(section.deps, dict) and section.deps["b"].kind == "all"
    assert section.timeout == timedelta(minutes=1)
    with pytest.raises(ValueError, match="static is required"):
        MappingSpec(kind="static")


# --- Static partition keys: one rule for Python and assets.toml (issue 13, item 11) ------------

KEY_TEXT = st.one_of(
    st.sampled_from(["-", "", " eu", "eu ", "e|u", "eu\nwest", "eu\twest", "eu\u200bwest", "a-b"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(key=KEY_TEXT)
def test_a_static_key_is_refused_alike_in_python_and_toml_and_an_accepted_one_round_trips(
    key: str,
) -> None:
    from assetflow.config.models import parse_config
    from assetflow.errors import DefinitionError
    from assetflow.partitions.core import MultiPartitions, StaticPartitions

    assume(key != "x")  # a repeated key is another error
    data = {
        "project": {"name": "t"},
        "assets": {"regions": {"sql": "select 1", "partitions": {"static": ["x", key]}}},
    }
    try:
        definition = StaticPartitions(["x", key])
    except DefinitionError as python_error:
        with pytest.raises(ConfigError) as caught:
            parse_config(data, Path("assets.toml"))
        assert "assets.regions.partitions.static[1]" in str(caught.value), caught.value
        assert repr(key) in str(python_error) and repr(key) in str(caught.value)
        assert "\n" not in str(caught.value) and "\n" not in str(python_error)
        return
    parse_config(data, Path("assets.toml"))  # accepted there too
    # A key is typed, printed on one line and joined into multi keys: all of that holds.
    assert key not in ("", "-") and "|" not in key and key == key.strip()
    assert key.isprintable() or " " in key, repr(key)
    assert definition.validate_key(key) == key
    multi = MultiPartitions({"a": definition, "b": StaticPartitions(["y"])})
    keys = multi.keys(None)
    assert [multi.validate_key(k) for k in keys] == keys
    assert f"{key}|y" in keys
