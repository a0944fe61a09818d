"""The parquet IO manager on an fsspec URL, against a real S3 server (moto's, on 127.0.0.1).

Partition keys of any characters become object keys that list back to the same partition; a
reader polling an object while it is rewritten only ever sees complete Parquet files; a write
that fails half-way leaves the previous object as it was. The ``[storage]`` rules for URLs
(credentials refused, ``file://`` kept local) are checked here too.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.config.models import parse_config
from assetflow.config.remote_data import RemoteData, credential_keys
from assetflow.definitions.assets import AssetDef
from assetflow.errors import ConfigError
from assetflow.io import (
    ParquetIOManager,
    RemoteParquetIOManager,
    Warehouse,
    io_manager_for,
    partition_key_of,
)
from assetflow.io.presence import _folder_names

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

import fsspec
import pyarrow.parquet as pq  # type: ignore[import-untyped]

ODD = AssetDef(name="odd", io="parquet")
EVENTS = AssetDef(name="events", io="parquet")


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with Warehouse(tmp_path / "warehouse.duckdb") as warehouse:
        yield warehouse.cursor()


@pytest.fixture
def remote(s3_endpoint: str, s3_bucket: str) -> RemoteData:
    return RemoteData(f"s3://{s3_bucket}/lake", {"endpoint_url": s3_endpoint})


@pytest.fixture
def manager(remote: RemoteData) -> RemoteParquetIOManager:
    return RemoteParquetIOManager(remote)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(key=st.text(min_size=1, max_size=24))
def test_any_partition_key_is_one_object_that_lists_back_to_it(
    manager: RemoteParquetIOManager, remote: RemoteData, con: duckdb.DuckDBPyConnection, key: str
) -> None:
    """Keys with ``/ % ? # * [ ] : |``, spaces, newlines or any Unicode: one object each,
    directly under the asset's folder, read back exactly by load."""
    stored = manager.store(ODD, key, con.sql("SELECT ? AS k", params=[key]), con)
    assert stored.metadata["path"] == manager.path(ODD, key)
    loaded = manager.load(ODD, [key], con)
    assert loaded is not None and loaded.fetchall() == [(key,)]
    names = _folder_names(remote, ODD.name)
    assert names is not None and key in {partition_key_of(name) for name in names}


def test_load_reads_exactly_the_mapped_partitions(
    manager: RemoteParquetIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        manager.store(EVENTS, day, con.sql("SELECT ? AS day, 1 AS n", params=[day]), con)
    loaded = manager.load(EVENTS, ["2024-01-03", "2024-01-01", "2024-01-09"], con)
    assert loaded is not None
    assert sorted(loaded.fetchall()) == [("2024-01-01", 1), ("2024-01-03", 1)]
    assert manager.load(EVENTS, ["2024-01-09"], con) is None


def test_a_reader_never_sees_half_a_partition(
    manager: RemoteParquetIOManager,
    remote: RemoteData,
    s3_endpoint: str,
    con: duckdb.DuckDBPyConnection,
) -> None:
    """A reader polling the object (its own S3 client) while it is rewritten again and again,
    alternately small and large, parses every version it gets as a whole Parquet file."""
    sizes = (10, 60_000)
    manager.store(EVENTS, "day", con.sql(f"SELECT range AS n FROM range({sizes[0]})"), con)
    reader_fs = fsspec.filesystem("s3", endpoint_url=s3_endpoint, skip_instance_cache=True)
    url = manager.path(EVENTS, "day")
    done = threading.Event()
    seen: list[int] = []
    problems: list[str] = []

    def poll() -> None:
        while not done.is_set():
            try:
                reader_fs.invalidate_cache()
                table = pq.read_table(io.BytesIO(reader_fs.cat(url)))
                seen.append(table.num_rows)
            except Exception as error:  # a torn read would land here
                problems.append(repr(error))

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for round_ in range(8):
            rows = sizes[(round_ + 1) % 2]
            manager.store(EVENTS, "day", con.sql(f"SELECT range AS n FROM range({rows})"), con)
    finally:
        done.set()
        reader.join()
    assert problems == []
    assert seen and set(seen) <= set(sizes)


def test_a_write_failing_half_way_leaves_the_previous_object(
    manager: RemoteParquetIOManager, remote: RemoteData, con: duckdb.DuckDBPyConnection
) -> None:
    manager.store(EVENTS, "day", con.sql("SELECT 1 AS n"), con)
    before = fsspec.filesystem("s3", **remote.options).cat(manager.path(EVENTS, "day"))

    def batches() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"n": pa.array(range(50_000), pa.int64())})
        raise RuntimeError("the source broke mid-stream")

    schema = pa.schema({"n": pa.int64()})
    broken = pa.RecordBatchReader.from_batches(schema, batches())
    with pytest.raises(Exception, match="the source broke mid-stream"):
        manager.store(EVENTS, "day", broken, con)
    fs = fsspec.filesystem("s3", **remote.options)
    fs.invalidate_cache()
    assert fs.cat(manager.path(EVENTS, "day")) == before
    assert [name for name in fs.ls(manager.folder(EVENTS), detail=False)] == [
        manager.path(EVENTS, "day").removeprefix("s3://")
    ]


# --- [storage] with a URL -----------------------------------------------------------------


def _storage(tmp_path: Path, storage: str) -> object:
    text = f'[project]\nname = "t"\n\n[storage]\n{storage}\n'
    import tomllib

    return parse_config(tomllib.loads(text), tmp_path / "assets.toml")


def test_a_url_is_remote_data_and_file_urls_stay_local(tmp_path: Path) -> None:
    config = _storage(tmp_path, 'data = "s3://b/p/"\nstorage_options = { anon = false }')
    assert config.data_root == RemoteData("s3://b/p", {"anon": False})  # type: ignore[attr-defined]
    local = _storage(tmp_path, f'data = "file://{tmp_path}/lake"')
    assert local.data_root == tmp_path / "lake"  # type: ignore[attr-defined]
    assert isinstance(
        io_manager_for(ODD, warehouse=None, data_dir=local.data_root),  # type: ignore[arg-type, attr-defined]
        ParquetIOManager,
    )


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ('data = "s3://AKIA:hush@b/p"', "storage.data: the URL holds a password"),
        ('storage_options = { endpoint_url = "http://x" }', "only used when data is an fsspec URL"),
        ('data = "s3://"', "names no bucket or folder"),
        (
            'data = "gs://b"\nstorage_options = { token = "/home/me/key.json" }',
            "storage.storage_options.token: credentials do not belong in assets.toml",
        ),
    ],
)
def test_bad_storage_urls_are_load_errors(tmp_path: Path, storage: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as caught:
        _storage(tmp_path, storage)
    assert "hush" not in str(caught.value)


def test_credential_like_keys_at_any_depth() -> None:
    options = {
        "endpoint_url": "http://x",
        "sse_kms_key_id": "alias/x",
        "client_kwargs": {"region_name": "eu", "aws_session_token": "t"},
        "config_kwargs": {"s3": {"addressing_style": "path"}},
        "account_key": "k",
        "password": "p",
    }
    assert credential_keys(options) == [
        "client_kwargs.aws_session_token",
        "account_key",
        "password",
    ]


def test_only_warehouse_steps_run_in_the_coordinator() -> None:
    from assetflow.graph.asset_graph import AssetGraph
    from assetflow.runner.attempt import runs_in_coordinator

    table = AssetDef(name="t", io="duckdb")
    files = AssetDef(name="p", io="parquet")
    graph = AssetGraph(
        [table, files, AssetDef(name="n", io="none"), AssetDef(name="upstream", io="duckdb")]
    )
    assert runs_in_coordinator(graph, table)
    assert not runs_in_coordinator(graph, files)
    assert not runs_in_coordinator(graph, graph["n"])


def test_a_protocol_without_its_package_names_what_to_install() -> None:
    import importlib.util

    from assetflow.io.remote_fs import RemoteDataError, filesystem_of

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed")
    with pytest.raises(RemoteDataError, match=r"storage\.data is gs://b/p: .*install gcsfs"):
        filesystem_of(RemoteData("gs://b/p"))
