"""``[storage]`` and ``[executor]``: where a project's data lives and where its steps run."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import model_validator

from assetflow.config.fields import (
    Duration,
    Located,
    Problems,
    Section,
    Text,
    numeric,
    raise_any,
)
from assetflow.config.remote_data import credential_keys, is_url, local_path_of, url_problem
from assetflow.config.section_reads import StorageReads

__all__ = ["MAX_WORKERS", "ExecutorSection", "StorageSection"]

# Steps in parallel: each is a thread (or process) holding connections; past this, a typo.
MAX_WORKERS = 1024


class StorageSection(Section, StorageReads):
    """``[storage]``: where state, warehouse and parquet files live (relative to the root).

    ``data`` may be an fsspec URL (``s3://bucket/prefix``) with ``storage_options`` for its
    filesystem; credentials come from the environment only (see :mod:`.remote_data`).
    Its paths are resolved by :class:`~assetflow.config.section_reads.StorageReads`.
    """

    state: Text = ".assetflow/state.duckdb"
    warehouse: Text = "warehouse.duckdb"
    data: Text = "data/"
    storage_options: dict[str, Any] = {}
    # How long a run waits for another program to let go of the warehouse file (None: 10m).
    lock_timeout: Duration | None = None

    @model_validator(mode="after")
    def _no_credentials(self) -> StorageSection:
        problems: Problems = []
        remote = is_url(self.data) and local_path_of(self.data) is None
        if remote and (problem := url_problem(self.data)) is not None:
            problems.append((("data",), problem))
        for name in credential_keys(self.storage_options):
            problems.append(
                (
                    ("storage_options", *name.split(".")),
                    "credentials do not belong in assets.toml; set them in the environment "
                    "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, "
                    "GOOGLE_APPLICATION_CREDENTIALS, ...), where the filesystem finds them",
                )
            )
        if self.storage_options and not remote and not problems:
            problems.append(
                (
                    ("storage_options",),
                    f"only used when data is an fsspec URL (s3://bucket/prefix), not {self.data!r}",
                )
            )
        raise_any(problems)
        return self


class ExecutorSection(Section):
    """``[executor]``: how steps run (threads, processes or Dask) and how many at once."""

    kind: Literal["threads", "processes", "dask"] = "threads"
    workers: Annotated[int, numeric(True, 1, MAX_WORKERS)] = 4
    address: Text | None = None

    @model_validator(mode="after")
    def _address_needs_dask(self) -> ExecutorSection:
        if self.address is not None and self.kind != "dask":
            raise Located([(("address",), f'only allowed with kind = "dask", not "{self.kind}"')])
        return self
