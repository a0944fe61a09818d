"""``assets.toml`` validated once, read back without pydantic (:mod:`.config.config_cache`).

A second load of the same bytes returns copies (:mod:`assetflow.config.section_reads`) that
must answer every field, property and method as the validated models do; anything else
(other bytes, a foreign or broken cache, values JSON cannot tag) is validated again.
"""

from __future__ import annotations

import json
import pickle
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT

import assetflow.config.alert_sections
import assetflow.config.lineage_sections
import assetflow.config.partition_specs
import assetflow.config.run_sections  # noqa: F401  (every model, for the subclass walk)
from assetflow.config.config_cache import cache_path
from assetflow.config.fields import Section
from assetflow.config.models import CONFIG_FILENAME, load_config
from assetflow.config.section_reads import COPIES, Copy
from assetflow.errors import ConfigError

RICH = """
[project]
name = "shop"
modules = ["examples.shop.assets"]
timezone = "Europe/Berlin"
external = ["raw.payments"]
listeners = ["pkg.mod:Listener"]

[storage]
state = ".assetflow/state.duckdb"
warehouse = "wh.duckdb"
data = "s3://bucket/prefix"
storage_options = { anon = false, client_kwargs = { region_name = "eu-west-1" } }
lock_timeout = "90s"

[executor]
kind = "dask"
workers = 3
address = "tcp://127.0.0.1:8786"

[pools]
api = 2

[assets.daily]
sql = "select {{ partition_key }} as day"
partitions = { daily = { start = 2024-01-01, end = "2024-02-01", timezone = "UTC" } }
retries = { max_retries = 2, delay = 1.5, backoff = 2, jitter = 0.25 }
timeout = "10m"
pool = "api"
tags = { domain = "finance" }
owners = ["ana@example.com"]
io = "parquet"
freshness = { max_lag = "26h" }
checks = ["not_null(day)"]
external = ["raw.payments"]

[assets.daily.deps]
up = "all"
win = { time_window = { start_offset = -2, end_offset = 0 } }
st = { static = { a = ["x", "y"] } }

[assets.regions]
sql = "select 1"
deps = ["daily"]
automation = "eager"

[assets.regions.partitions.multi]
day = { hourly = { start = "2024-01-01T00:00" } }
region = { static = ["eu", "us"] }

[assets.python_one]
schedule = "0 3 * * *"
description = "overrides"

[sources.export]
path = "landing/{partition}.csv"
partitions = { monthly = { start = "2024-01" } }
version = "content"

[dbt]
project_dir = "dbt"
target = "dev"

[schedules.nightly]
cron = "0 3 * * *"
timezone = "Asia/Seoul"
select = "+daily"
enabled = false

[[alerts]]
kind = "slack"
on = ["failure", "freshness"]
url_env = "SLACK_WEBHOOK_URL"
timeout = 5

[[alerts]]
kind = "pagerduty"
routing_key_env = "PD_ROUTING_KEY"

[lineage.openlineage]
namespace = "shop"
transport = { type = "http", url = "http://127.0.0.1:5000" }
"""

MINIMAL = '[project]\nname = "shop"\n'


def project(folder: Path, text: str) -> Path:
    (folder / ".assetflow").mkdir(exist_ok=True)
    path = folder / CONFIG_FILENAME
    path.write_text(text, encoding="utf-8")
    return path


def every_model() -> set[type[Section]]:
    found: set[type[Section]] = set()
    todo = [Section]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("assetflow.config.") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_every_model_has_a_copy_class() -> None:
    names = {model.__name__ for model in every_model()}
    assert names == set(COPIES)


def same(model: Any, copy: Any, where: str = "config") -> None:
    """``copy`` holds what ``model`` holds, field by field, in the same types."""
    if isinstance(model, Section):
        assert type(copy) is COPIES[type(model).__name__], where
        assert set(vars(copy)) - {"_path"} == set(type(model).model_fields), where
        for field in type(model).model_fields:
            same(getattr(model, field), getattr(copy, field), f"{where}.{field}")
    elif isinstance(model, dict):
        assert type(copy) is dict and list(copy) == list(model), where
        for key in model:
            same(model[key], copy[key], f"{where}.{key}")
    elif isinstance(model, list):
        assert type(copy) is list and len(copy) == len(model), where
        for index, item in enumerate(model):
            same(item, copy[index], f"{where}[{index}]")
    else:
        assert type(copy) is type(model) and copy == model, where


@pytest.mark.parametrize("text", [RICH, MINIMAL, (REPO_ROOT / CONFIG_FILENAME).read_text()])
def test_a_second_load_reads_copies_equal_to_the_models(tmp_path: Path, text: str) -> None:
    path = project(tmp_path, text)
    validated = load_config(path)
    assert isinstance(validated, Section) and cache_path(path.resolve()).is_file()
    copied = load_config(path)
    assert isinstance(copied, Copy)
    same(validated, copied)
    # the properties and methods, from the same mixins
    for name in ("path", "root", "state_path", "warehouse_path", "data_root"):
        assert getattr(copied, name) == getattr(validated, name), name
    root = tmp_path / "elsewhere"
    assert copied.storage.resolve(root) == validated.storage.resolve(root)
    assert copied.storage.lock_timeout_s == validated.storage.lock_timeout_s
    for name, section in validated.assets.items():
        if section.partitions is not None:
            assert copied.assets[name].partitions is not None
            assert copied.assets[name].partitions.kind == section.partitions.kind
            same(section.partitions.time_window, copied.assets[name].partitions.time_window)
    executor = validated.executor.model_copy(update={"workers": 7})
    copied_executor = copied.executor.model_copy(update={"workers": 7})
    same(executor, copied_executor)
    moved = copied.model_copy(update={"executor": copied_executor})
    assert moved.path == copied.path and moved.executor.workers == 7
    assert copied.executor.workers == validated.executor.workers  # the copy was not changed


def test_the_rich_config_comes_back_with_its_durations(tmp_path: Path) -> None:
    path = project(tmp_path, RICH)
    load_config(path)
    copied = load_config(path)
    assert isinstance(copied, Copy)
    assert pickle.loads(pickle.dumps(copied)) == copied
    assert copied.storage.lock_timeout == timedelta(seconds=90)
    assert copied.assets["daily"].timeout == timedelta(minutes=10)
    assert copied.assets["daily"].partitions is not None
    assert copied.assets["daily"].partitions.time_window.start == "2024-01-01"


def test_other_bytes_are_validated_again(tmp_path: Path) -> None:
    path = project(tmp_path, MINIMAL)
    load_config(path)
    path.write_text(MINIMAL + '[executor]\nworkers = "four"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"executor\.workers"):
        load_config(path)
    path.write_text(MINIMAL + "[executor]\nworkers = 2\n", encoding="utf-8")
    assert isinstance(load_config(path), Section)
    assert load_config(path).executor.workers == 2


@pytest.mark.parametrize(
    "cache",
    [
        "not json",
        "[]",
        '{"format": "another", "source": "", "config": {}}',
        "",
    ],
)
def test_a_foreign_or_broken_cache_is_ignored(tmp_path: Path, cache: str) -> None:
    path = project(tmp_path, MINIMAL)
    cache_path(path.resolve()).write_text(cache, encoding="utf-8")
    config = load_config(path)
    assert isinstance(config, Section) and config.project.name == "shop"
    assert isinstance(load_config(path), Copy)  # rewritten by the validation


def test_a_cache_naming_no_config_is_ignored(tmp_path: Path) -> None:
    path = project(tmp_path, MINIMAL)
    load_config(path)
    kept = cache_path(path.resolve())
    document = json.loads(kept.read_text(encoding="utf-8"))
    document["config"] = {"s": "ProjectSection", "f": {"name": "x"}}
    kept.write_text(json.dumps(document), encoding="utf-8")
    assert isinstance(load_config(path), Section)


def test_values_json_cannot_tag_leave_the_file_uncached(tmp_path: Path) -> None:
    text = MINIMAL + '[storage]\ndata = "s3://bucket/x"\nstorage_options = { since = 2024-01-01 }\n'
    path = project(tmp_path, text)
    load_config(path)
    assert not cache_path(path.resolve()).exists()
    assert isinstance(load_config(path), Section)


def test_no_cache_without_the_folder(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_FILENAME
    path.write_text(MINIMAL, encoding="utf-8")
    load_config(path)
    load_config(path)
    assert not (tmp_path / ".assetflow").exists()


def test_a_cached_config_still_refuses_clashing_storage(tmp_path: Path) -> None:
    """The storage check depends on the file system, not the bytes: it runs on every load
    (here a symbolic link made after the first load puts the warehouse on the state file)."""
    path = project(tmp_path, MINIMAL + '[storage]\nwarehouse = "wh.duckdb"\n')
    load_config(path)
    assert isinstance(load_config(path), Copy)
    (tmp_path / ".assetflow" / "state.duckdb").write_bytes(b"")
    (tmp_path / "wh.duckdb").symlink_to(tmp_path / ".assetflow" / "state.duckdb")
    with pytest.raises(ConfigError, match=r"storage\.warehouse: names the same place"):
        load_config(path)
