"""``[storage]`` places that are one place are refused at load (issue 13, item 8).

However the same file is spelled (relative or absolute, through ``..``, ``./`` or repeated
slashes, a symbolic link to it or to its folder, a hard link), state and warehouse naming it, or
the data folder naming the state file or the warehouse, is one line naming ``assets.toml`` and
the key, exit 2, before anything is opened.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import PROJECT_HEADER, run_cli, write_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.config.models import load_config
from assetflow.config.storage_paths import same_place
from assetflow.errors import ConfigError

PIPELINE = "from assetflow import asset\n\n@asset\ndef runs():\n    return None\n"


def _spellings(root: Path, relative: str) -> st.SearchStrategy[str]:
    """Ways to write the path ``relative`` (to ``root``) in assets.toml."""
    parts = relative.split("/")

    def spell(absolute: bool, detours: list[bool], dots: list[bool], slashes: list[bool]) -> str:
        pieces: list[str] = []
        for index, part in enumerate(parts):
            if dots[index]:
                pieces.append(".")
            if detours[index]:
                pieces += ["elsewhere", ".."]
            pieces.append(part + ("/" if slashes[index] and index < len(parts) - 1 else ""))
        text = "/".join(pieces)
        return str(root / text) if absolute else text

    flags = st.lists(st.booleans(), min_size=len(parts), max_size=len(parts))
    return st.builds(spell, st.booleans(), flags, flags, flags)


def _storage(root: Path, **keys: str) -> Path:
    lines = "".join(f'{key} = "{value}"\n' for key, value in keys.items())
    (root / "elsewhere").mkdir(exist_ok=True)
    return write_project(root, PROJECT_HEADER + "\n[storage]\n" + lines, pipeline=PIPELINE)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_state_and_warehouse_spelled_differently_are_refused(
    tmp_path: Path, data: st.DataObject
) -> None:
    state = data.draw(_spellings(tmp_path, "db/one.duckdb"), label="state")
    warehouse = data.draw(_spellings(tmp_path, "db/one.duckdb"), label="warehouse")
    _storage(tmp_path, state=state, warehouse=warehouse)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert "assets.toml" in message and "storage.warehouse" in message
    assert "storage.state" in message


def test_a_symbolic_link_to_the_state_file_is_the_state_file(tmp_path: Path) -> None:
    (tmp_path / ".assetflow").mkdir()
    (tmp_path / ".assetflow" / "state.duckdb").write_bytes(b"")
    (tmp_path / "wh.duckdb").symlink_to(tmp_path / ".assetflow" / "state.duckdb")
    _storage(tmp_path, warehouse="wh.duckdb")
    with pytest.raises(ConfigError, match=r"storage\.warehouse: names the same place"):
        load_config(tmp_path)


def test_a_linked_folder_and_a_hard_link_are_the_same_place(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert same_place(tmp_path / "real" / "x.duckdb", tmp_path / "alias" / "x.duckdb")
    (tmp_path / "real" / "y.duckdb").write_bytes(b"")
    os.link(tmp_path / "real" / "y.duckdb", tmp_path / "z.duckdb")
    assert same_place(tmp_path / "real" / "y.duckdb", tmp_path / "z.duckdb")
    assert not same_place(tmp_path / "real" / "y.duckdb", tmp_path / "real" / "Y.duckdb")


def test_the_data_folder_cannot_be_the_state_file(tmp_path: Path) -> None:
    _storage(tmp_path, data=".assetflow/state.duckdb/")
    with pytest.raises(ConfigError, match=r"storage\.data: names the same place as storage\.state"):
        load_config(tmp_path)


def test_distinct_places_load(tmp_path: Path) -> None:
    _storage(tmp_path, state="db/state.duckdb", warehouse="db/warehouse.duckdb", data="db/")
    config = load_config(tmp_path)
    assert config.state_path != config.warehouse_path


def test_the_cli_refuses_one_file_for_both_before_opening_it(tmp_path: Path) -> None:
    """The issue's case: an asset named ``runs`` and one file for state and warehouse."""
    root = _storage(tmp_path, state="both.duckdb", warehouse="./both.duckdb")
    for args in (["status"], ["materialize", "runs"]):
        code, out, err = run_cli(args, root)
        assert code == 2, (out, err)
        assert out == "" and "Traceback" not in err
        assert err.strip().splitlines() == [
            f"error: assets.toml: storage.warehouse: names the same place as storage.state "
            f"({root / 'both.duckdb'}): the state file and the warehouse must be two files"
        ]
    assert not (root / "both.duckdb").exists()
