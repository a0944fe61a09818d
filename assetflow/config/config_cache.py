"""``assets.toml`` validated once: the result kept in ``.assetflow/config-cache.json``.

Validating the file takes pydantic, whose import and models cost a read command about a tenth
of a second. After a successful validation the validated values are written (as tagged JSON)
next to the state, keyed by the file's bytes and by this version of assetflow's config code;
the next load of the same bytes reads them back as copies (:mod:`.section_reads`) without
pydantic. A file that fails validation is never kept, so every error is still reported by the
models; a cache that is missing, foreign, unreadable or of other bytes is ignored. Values
JSON cannot tag exactly (a TOML date inside ``storage_options``, say) leave the file uncached.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from assetflow.cache_files import write_atomically
from assetflow.config.section_reads import COPIES, Copy

__all__ = ["cache_path", "cached_config", "keep_config"]

CACHE_NAME = "config-cache.json"


def cache_path(config_path: Path) -> Path:
    """Where the cache of ``config_path`` is kept: ``.assetflow/`` beside it (not kept when
    that folder does not exist, e.g. before the first run or with the state elsewhere)."""
    return config_path.parent / ".assetflow" / CACHE_NAME


def cached_config(config_path: Path, source: bytes) -> Copy | None:
    """The validated config of ``source`` (the bytes of ``config_path``) if kept, else None."""
    try:
        document = json.loads(cache_path(config_path).read_bytes())
        if document["format"] != _format() or document["source"] != _digest(source):
            return None
        config = _decode(document["config"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None
    return config if type(config) is COPIES["ProjectConfig"] else None


def keep_config(config_path: Path, source: bytes, config: object) -> None:
    """Keep ``config`` (validated from ``source``) for the next load, if it can be tagged."""
    try:
        encoded = _encode(config)
    except _Untagged:
        return
    document = {"format": _format(), "source": _digest(source), "config": encoded}
    write_atomically(cache_path(config_path), json.dumps(document))


class _Untagged(Exception):
    """A value the cache cannot tag so that it reads back equal."""


def _encode(value: Any) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_encode(item) for item in value]
    if type(value) is dict and all(type(key) is str for key in value):
        return {"d": {key: _encode(item) for key, item in value.items()}}
    if type(value) is timedelta:
        return {"t": [value.days, value.seconds, value.microseconds]}
    name = type(value).__name__
    fields = getattr(type(value), "model_fields", None)
    if name in COPIES and isinstance(fields, dict):
        return {"s": name, "f": {field: _encode(getattr(value, field)) for field in fields}}
    raise _Untagged(name)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "d" in value:
        return {key: _decode(item) for key, item in value["d"].items()}
    if "t" in value:
        days, seconds, microseconds = value["t"]
        return timedelta(days=days, seconds=seconds, microseconds=microseconds)
    fields = {key: _decode(item) for key, item in value["f"].items()}
    return COPIES[value["s"]](fields)


def _digest(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()


def _format() -> str:
    """This Python and this version of the config code (its files' sizes and times), so that
    an upgrade or an edit of a model never reads values validated by another."""
    folder = Path(__file__).parent
    stamps = sorted(
        f"{entry.name}:{entry.stat().st_size}:{entry.stat().st_mtime_ns}"
        for entry in os.scandir(folder)
        if entry.name.endswith(".py")
    )
    code = hashlib.sha256("|".join(stamps).encode()).hexdigest()[:16]
    return f"1 py{sys.version_info[0]}.{sys.version_info[1]} {code}"
