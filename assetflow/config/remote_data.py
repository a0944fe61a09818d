"""``[storage] data`` as an fsspec URL: where Parquet partitions live beyond this machine.

``data = "s3://bucket/prefix"`` (or ``gs://``, ``az://``, ``memory://``: any protocol fsspec
knows) puts the ``parquet`` IO manager's files in object storage, and ``storage_options`` are
handed to fsspec as they are (``endpoint_url``, ``client_kwargs``, ...). Credentials never come
from ``assets.toml``: a key of ``storage_options`` that looks like one (``key``, ``secret``,
``token``, anything ending in ``_key``, ...), at any depth, or a password in the URL itself, is
refused at load. They come from the environment (``AWS_ACCESS_KEY_ID`` ...), as the filesystem
package finds them.

This module is plain data (:class:`RemoteData` is picklable, so an executor can ship it); the
filesystem itself is made in :mod:`assetflow.io.remote_fs`.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RemoteData",
    "credential_keys",
    "data_root",
    "is_url",
    "local_path_of",
    "url_problem",
]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# Parts of a key name that mean it holds a secret (compared in lower case).
_SECRET_WORDS = (
    "secret",
    "token",
    "password",
    "passwd",
    "credential",
    "access_key",
    "account_key",
    "private_key",
    "connection_string",
)


def is_url(data: str) -> bool:
    """Whether ``data`` is a URL (``s3://...``) rather than a local folder."""
    return _SCHEME.match(data.strip()) is not None


def local_path_of(data: str) -> str | None:
    """The local path a ``file://`` URL names (kept on the local, rename-based manager);
    ``None`` for any other URL."""
    parsed = urllib.parse.urlsplit(data.strip())
    if parsed.scheme.lower() != "file":
        return None
    return urllib.parse.unquote(parsed.netloc + parsed.path) or "/"


def url_problem(data: str) -> str | None:
    """What is wrong with a data URL, or ``None``: a password in it, or no location after the
    scheme."""
    parsed = urllib.parse.urlsplit(data.strip())
    if parsed.password is not None or (parsed.username and ":" in parsed.netloc.split("@")[0]):
        return (
            "the URL holds a password; credentials do not belong in assets.toml: set them in the "
            "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...)"
        )
    if not (parsed.netloc + parsed.path).strip("/"):
        return f"the URL {data!r} names no bucket or folder (e.g. s3://bucket/prefix)"
    return None


def _looks_secret(key: str) -> bool:
    lowered = key.lower()
    return (
        lowered in ("key", "secret")
        or lowered.endswith("_key")
        or any(word in lowered for word in _SECRET_WORDS)
    )


def credential_keys(options: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted names of every key of ``options`` (nested tables too) that looks like a
    credential."""
    found: list[str] = []
    for key, value in options.items():
        name = f"{prefix}{key}"
        if _looks_secret(str(key)):
            found.append(name)
        elif isinstance(value, Mapping):
            found.extend(credential_keys(value, name + "."))
    return found


@dataclass(frozen=True)
class RemoteData:
    """The parquet IO manager's root on an fsspec filesystem: the URL (no trailing ``/``) and
    the options its filesystem is made with."""

    url: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def protocol(self) -> str:
        """The URL's scheme, lower case (``s3``)."""
        return self.url.split("://", 1)[0].lower()

    def join(self, *parts: str) -> str:
        """The URL of ``parts`` under the root, joined with ``/``."""
        return "/".join((self.url, *parts))

    def __str__(self) -> str:
        return self.url


def data_root(data: str, root: Path, options: Mapping[str, Any]) -> Path | RemoteData:
    """``[storage] data`` resolved: a local folder (``~`` expanded, relative to ``root``), or
    the :class:`RemoteData` of a URL."""
    local = local_path_of(data) if is_url(data) else data
    if local is None:
        return RemoteData(data.strip().rstrip("/"), dict(options))
    path = Path(local).expanduser()
    return path if path.is_absolute() else root / path
