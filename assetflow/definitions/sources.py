"""`@source` and ``[sources.NAME]``: data the project reads but never makes.

A source is declared like an asset and takes part in the graph like one (assets name it as an
upstream, partitions map the same way), but assetflow never materializes it: it *observes* it.
An observation of one source partition is a data version, or ``None`` while the partition is not
there yet. A Python source is a function that returns that version; a file source is a path
template (``landing/orders/{partition}.csv``, relative to the project root) whose version is the
files' size and modification time, or a hash of their content.

What follows from the observations (``source_changed``, ``waiting``) is the planner's business;
recording them is the store's. This module only declares sources and observes one partition.
"""

from __future__ import annotations

import glob
import hashlib
import inspect
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from assetflow.definitions.assets import ATTRIBUTE, AssetDef, check_asset_name
from assetflow.definitions.context import Context
from assetflow.errors import DefinitionError
from assetflow.partitions.core import (
    UNPARTITIONED,
    MultiPartitions,
    PartitionsDefinition,
    time_window_of,
)

F = TypeVar("F", bound=Callable[..., Any])
VersionKind = Literal["mtime", "content"]
VERSION_KINDS: tuple[str, ...] = ("mtime", "content")
# Sources are never materialized: their "code version" is a constant, so that observing never
# reads as a code change of the source.
SOURCE_CODE_VERSION = "source"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class SourceSpec:
    """How to observe a source: a function, or a file path template and a version kind."""

    path: str | None = None
    version: VersionKind = "mtime"
    fn: Callable[..., Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Observation:
    """What observing one source partition found: its version (``None``: not there yet), the
    file(s) it names (file sources), or the error that kept it from being observed."""

    source: str
    partition: str
    data_version: str | None
    paths: tuple[Path, ...] = ()
    error: str | None = None

    @property
    def present(self) -> bool:
        return self.data_version is not None


def build_source(fn: Callable[..., Any], **options: Any) -> AssetDef:
    """The definition of a ``@source`` function (the decorator's work, minus attaching it)."""
    name = options.pop("name", None) or fn.__name__
    check_asset_name(name, f"@source on {fn.__module__}.{fn.__qualname__}")
    extra = [p for p in inspect.signature(fn).parameters if p != "context"]
    if extra:
        raise DefinitionError(
            f"source '{name}': a source reads no assets; its function takes only `context` "
            f"(got {', '.join(extra)})"
        )
    return source_definition(
        name,
        SourceSpec(fn=fn),
        partitions=options.pop("partitions", None),
        description=options.pop("description", None) or inspect.cleandoc(fn.__doc__ or ""),
        group=options.pop("group", None),
        tags=options.pop("tags", None),
        owners=options.pop("owners", None),
        origin=f"{fn.__module__}.{fn.__qualname__}",
        fn=fn,
    )


def source_definition(
    name: str,
    spec: SourceSpec,
    *,
    partitions: PartitionsDefinition | None = None,
    description: str = "",
    group: str | None = None,
    tags: Mapping[str, str] | None = None,
    owners: Sequence[str] | None = None,
    origin: str = "assets.toml",
    fn: Callable[..., Any] | None = None,
) -> AssetDef:
    """An :class:`AssetDef` that is a source (``kind == "source"``, never materialized)."""
    partitions = partitions or UNPARTITIONED
    if not isinstance(partitions, PartitionsDefinition):
        raise DefinitionError(
            f"source '{name}': partitions must be a partitions definition such as "
            f"DailyPartitions(start=...), got {type(partitions).__name__}"
        )
    if spec.version not in VERSION_KINDS:
        raise DefinitionError(
            f"source '{name}': version must be one of {', '.join(VERSION_KINDS)}, "
            f"got {spec.version!r}"
        )
    if spec.path is not None:
        _check_template(name, spec.path, partitions)
    return AssetDef(
        name=name,
        fn=fn,
        partitions=partitions,
        code_version=SOURCE_CODE_VERSION,
        code_version_explicit=True,
        tags=dict(tags or {}),
        group=group or "default",
        owners=tuple(owners or ()),
        description=description,
        io="none",
        source=origin,
        observed=spec,
    )


def _check_template(name: str, template: str, partitions: PartitionsDefinition) -> None:
    """Refuse a path template whose placeholders the source's partitions cannot fill."""
    try:
        template.format_map(_Fields(_fields(partitions, None)))
    except (KeyError, ValueError, IndexError) as exc:
        allowed = ", ".join("{" + f + "}" for f in _fields(partitions, None)) or "none"
        raise DefinitionError(
            f"source '{name}': path {template!r} has a placeholder it cannot fill ({exc}); "
            f"allowed: {allowed} (double the braces for a literal one)"
        ) from None
    if partitions.kind != "none" and "{" not in template.replace("{{", ""):
        raise DefinitionError(
            f"source '{name}': path {template!r} is the same file for every partition; "
            "put {partition} in it"
        )


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def _fields(partitions: PartitionsDefinition, key: str | None) -> dict[str, str]:
    """The placeholders of a path template: ``partition``, and each dimension of a multi."""
    if partitions.kind == "none":
        return {}
    fields = {"partition": key or "k"}
    if isinstance(partitions, MultiPartitions):
        parts = partitions.split_key(key) if key is not None else {}
        for dimension, _ in partitions.dimensions:
            fields[dimension] = parts.get(dimension, "k")
    return fields


def source_paths(definition: AssetDef, key: str, root: Path) -> tuple[Path, ...]:
    """The files a file source's partition names now (a glob may match several, or none)."""
    spec = definition.observed
    if spec is None or spec.path is None:
        return ()
    relative = spec.path.format_map(_Fields(_fields(definition.partitions, key)))
    pattern = root / relative
    if _GLOB_CHARS & set(relative):
        matches = (Path(p) for p in glob.glob(str(pattern), recursive=True))
        return tuple(sorted(path for path in matches if path.is_file()))
    return (pattern,) if pattern.is_file() else ()


_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()


def _content_hash(path: Path, size: int, mtime_ns: int) -> str:
    """The SHA-256 of a file, remembered while its size and modification time stay put."""
    key = (str(path), size, mtime_ns)
    with _HASHES_LOCK:
        found = _HASHES.get(key)
    if found is None:
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        found = digest.hexdigest()
        with _HASHES_LOCK:
            _HASHES[key] = found
    return found


def _file_version(paths: Sequence[Path], kind: VersionKind, root: Path) -> str:
    """One version for a partition's files: size + mtime (or content) of each, combined."""
    pieces = []
    for path in paths:
        stat = path.stat()
        if kind == "content":
            piece = _content_hash(path, stat.st_size, stat.st_mtime_ns)
        else:
            piece = f"{stat.st_size}-{stat.st_mtime_ns}"
        try:
            name = str(path.relative_to(root))
        except ValueError:
            name = str(path)
        pieces.append((name, piece))
    if len(pieces) == 1 and kind == "content":
        return f"h{pieces[0][1][:32]}"
    # Hashed, so that a short version (``3f2a…``) already tells two versions apart.
    combined = hashlib.sha256(repr(sorted(pieces)).encode()).hexdigest()
    return f"{'h' if kind == 'content' else 'f'}{combined[:32]}"


def observe(definition: AssetDef, key: str, root: Path) -> Observation:
    """Observe one partition of a source; never raises for the source's own failures."""
    spec = definition.observed
    assert spec is not None, f"{definition.name} is not a source"
    try:
        if spec.fn is not None:
            return Observation(definition.name, key, _call(definition, spec.fn, key))
        paths = source_paths(definition, key, root)
        if not paths:
            return Observation(definition.name, key, None)
        return Observation(definition.name, key, _file_version(paths, spec.version, root), paths)
    except FileNotFoundError:  # vanished between the listing and the stat: not there
        return Observation(definition.name, key, None)
    except (Exception, SystemExit) as exc:  # sys.exit() in a source function is its failure
        from assetflow.text import describe_exception

        return Observation(definition.name, key, None, error=describe_exception(exc))


def _call(definition: AssetDef, fn: Callable[..., Any], key: str) -> str | None:
    kwargs: dict[str, Any] = {}
    if "context" in inspect.signature(fn).parameters:
        kwargs["context"] = Context(
            asset_name=definition.name,
            partition_key=key,
            time_window=time_window_of(definition.partitions, key),
            log=logging.getLogger(f"assetflow.source.{definition.name}"),
        )
    found = fn(**kwargs)
    if found is None:
        return None
    if isinstance(found, bytes):
        found = found.hex()
    text = str(found)
    if not text:
        raise ValueError("returned an empty data version (return None while it is not there)")
    return text


def input_paths(definition: AssetDef, keys: Sequence[str], root: Path) -> Path | list[Path] | None:
    """What a Python asset receives for a source: the path of its one file, a list of paths
    (several mapped partitions, or a glob), or ``None`` (a Python source, or nothing there)."""
    spec = definition.observed
    if spec is None or spec.path is None:
        return None
    found = [path for key in keys for path in source_paths(definition, key, root)]
    single = len(keys) == 1 and not (_GLOB_CHARS & set(spec.path))
    if single:
        return found[0] if found else None
    return found or None


_READERS = {
    ".csv": "read_csv_auto",
    ".tsv": "read_csv_auto",
    ".parquet": "read_parquet",
    ".json": "read_json_auto",
    ".jsonl": "read_json_auto",
    ".ndjson": "read_json_auto",
}


def source_input(
    definition: AssetDef, keys: Sequence[str], root: Path, con: Any, sql: str | None
) -> Any:
    """What a step receives for a source it reads: for a Python asset the path(s) (see
    :func:`input_paths`); for a SQL asset a DuckDB relation over the files (CSV, Parquet or
    JSON, by extension), or ``None`` when a Python source or nothing is there."""
    found = input_paths(definition, keys, root)
    if sql is None or found is None:
        return found
    paths = [found] if isinstance(found, Path) else found
    suffixes = {path.suffix.lower() for path in paths}
    reader = _READERS.get(suffixes.pop()) if len(suffixes) == 1 else None
    if reader is None:
        raise DefinitionError(
            f"source '{definition.name}': a SQL asset reads CSV, Parquet or JSON files "
            f"(by extension), got {', '.join(sorted(str(p.name) for p in paths[:3]))}"
        )
    listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in paths)
    return con.sql(f"SELECT * FROM {reader}([{listed}])")


@overload
def source(fn: F, /) -> F: ...


@overload
def source(
    *,
    name: str | None = None,
    partitions: PartitionsDefinition | None = None,
    description: str | None = None,
    group: str | None = None,
    tags: Mapping[str, str] | None = None,
    owners: Sequence[str] | None = None,
) -> Callable[[F], F]: ...


def source(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Declare a source: data the project reads but never makes (landing files, another
    system's table, an API).

    The decorated function takes an optional ``context`` (``partition_key``, ``time_window``,
    ``log``) and returns a data version for that partition (any string; a new one means new
    data), or ``None`` while the partition is not there yet. Assets read the source by naming
    it, like an upstream asset. Works bare and with arguments; the function stays callable.
    """
    unknown = set(options) - _SOURCE_OPTIONS
    if unknown:
        raise DefinitionError(
            f"@source got unknown argument(s): {', '.join(sorted(unknown))} "
            f"(expected: {', '.join(sorted(_SOURCE_OPTIONS))})"
        )

    def decorate(function: F) -> F:
        if not callable(function):
            raise DefinitionError(f"@source must decorate a function, got {function!r}")
        setattr(function, ATTRIBUTE, build_source(function, **dict(options)))
        return function

    if fn is not None:
        if options:
            raise DefinitionError("@source takes keyword arguments only")
        return decorate(fn)
    return decorate


_SOURCE_OPTIONS = frozenset({"name", "partitions", "description", "group", "tags", "owners"})
