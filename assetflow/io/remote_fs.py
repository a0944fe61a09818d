"""The fsspec filesystem of a remote data root, and DuckDB reading through it.

DuckDB reads ``s3://...`` paths through the very filesystem assetflow writes with
(``register_filesystem``): no httpfs extension is downloaded, and the credentials are the ones
fsspec found in the environment. A registration belongs to the DuckDB database, so every cursor
of a connection shares it; registering a protocol twice is an error, so it is done once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import duckdb

from assetflow.config.remote_data import RemoteData
from assetflow.errors import AssetflowError

__all__ = [
    "RemoteDataError",
    "filesystem_of",
    "listed_names",
    "readable_on",
    "storage_failure",
]

# The fsspec package each common protocol needs, for the error naming what to install.
_PACKAGES = {"s3": "s3fs (pip install 'assetflow[s3]')", "s3a": "s3fs", "gs": "gcsfs"}
_PACKAGES |= {"gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs"}


class RemoteDataError(AssetflowError):
    """The remote data root cannot be reached: its fsspec package is missing, or the storage
    refused (credentials, bucket, endpoint). The message names the URL."""


def filesystem_of(remote: RemoteData) -> Any:
    """The fsspec filesystem for ``remote`` (fsspec caches one per protocol and options)."""
    try:
        import fsspec
    except ImportError as error:  # pragma: no cover - pyarrow's deps do not bring it everywhere
        raise RemoteDataError(
            f"storage.data is {remote.url}: fsspec is not installed (pip install 'assetflow[s3]')"
        ) from error
    try:
        return fsspec.filesystem(remote.protocol, **dict(remote.options))
    except (ImportError, ValueError) as error:
        package = _PACKAGES.get(remote.protocol, f"the fsspec package for {remote.protocol}://")
        raise RemoteDataError(
            f"storage.data is {remote.url}: cannot open its filesystem ({error}); install {package}"
        ) from error
    except TypeError as error:
        raise RemoteDataError(
            f"storage.data is {remote.url}: storage_options do not fit its filesystem ({error})"
        ) from error


def storage_failure(action: str, url: str, error: BaseException) -> RemoteDataError:
    """A storage error explained: what was done, where, and where credentials come from."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    hint = ""
    if "credential" in text.lower() or type(error).__name__ == "NoCredentialsError":
        hint = (
            "; credentials come from the environment only (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, for s3://)"
        )
    return RemoteDataError(f"cannot {action} {url}: {text}{hint}")


def readable_on(con: duckdb.DuckDBPyConnection, fs: Any) -> None:
    """Let DuckDB on ``con`` read ``fs``'s URLs (once per database; later calls do nothing)."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    if not set(protocols) & set(con.list_filesystems()):
        # Another thread may have registered it just now.
        with contextlib.suppress(duckdb.InvalidInputException):
            con.register_filesystem(fs)


def listed_names(fs: Any, folder: str) -> Iterable[str] | None:
    """The names of the objects directly in ``folder`` (no cached listing), or ``None`` when
    the folder does not exist."""
    fs.invalidate_cache(folder)
    try:
        entries = fs.ls(folder, detail=False)
    except FileNotFoundError:
        return None
    return [str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries]
