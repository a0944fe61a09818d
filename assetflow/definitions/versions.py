"""Code versions: what counts as a change to an asset's logic.

A Python asset's code version hashes its syntax tree with the docstring and decorators removed,
so a change in comments, formatting or the docstring is not a code change, while any change to
the statements is. A SQL asset's code version hashes its normalized text: comments dropped,
whitespace collapsed, unquoted words lowercased (DuckDB identifiers and keywords are
case-insensitive), quoted strings kept as written, and ``{{ ref('x') }}`` read as ``x``.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import hashlib
import inspect
import json
import linecache
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assetflow.cache_files import write_atomically
from assetflow.sql.template import without_refs

VERSION_LENGTH = 12


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:VERSION_LENGTH]


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:] or [ast.Pass()]
    return body


def function_code_version(fn: Callable[..., Any]) -> str:
    """A hash of ``fn``'s syntax tree, ignoring comments, formatting, docstring and decorators.

    Falls back to the compiled bytecode when the source is unavailable (functions defined in a
    REPL or with ``exec``).
    """
    cached = _CACHE.lookup(fn) if _CACHE.active else None
    if cached is not None:
        return cached
    version = _function_code_version(fn)
    if _CACHE.active:
        _CACHE.store(fn, version)
    return version


def _function_code_version(fn: Callable[..., Any]) -> str:
    node: ast.AST | None = _definition_in_file(fn)
    if node is None:
        try:
            source = textwrap.dedent(inspect.getsource(fn))
            tree = ast.parse(source)
        except (OSError, TypeError, SyntaxError):
            code = getattr(fn, "__code__", None)
            payload = repr((code.co_code, code.co_consts)) if code else fn.__qualname__
            return _digest(payload)
        node = tree.body[0] if tree.body else tree
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node = copy.copy(node)  # the parsed file is shared: strip a copy
        node.decorator_list = []
        node.body = _strip_docstring(node.body)
    return _digest(ast.dump(node, annotate_fields=False, include_attributes=False))


class _VersionCache:
    """Code versions by source file *content* (a hash, never a timestamp) and function, kept
    in a JSON file between processes: hashing a syntax tree costs ~0.1 ms per function, which
    a project of a thousand assets would pay at every command."""

    def __init__(self) -> None:
        self.reset({})
        self.active = False

    def reset(self, entries: dict[str, dict[str, str]]) -> None:
        self.entries = entries  # content hash -> {"line:qualname": version}
        self.used: set[str] = set()
        self.dirty = False
        self._digests: dict[str, tuple[list[str], str]] = {}

    def _key(self, fn: Callable[..., Any]) -> tuple[str, str] | None:
        code = getattr(fn, "__code__", None)
        if code is None:
            return None
        linecache.checkcache(code.co_filename)  # a module rewritten since it was last read
        lines = linecache.getlines(code.co_filename)
        if not lines:
            return None
        known = self._digests.get(code.co_filename)
        if known is None or known[0] is not lines:
            digest = hashlib.sha256("".join(lines).encode()).hexdigest()[:24]
            known = self._digests[code.co_filename] = (lines, digest)
        self.used.add(known[1])
        return known[1], f"{code.co_firstlineno}:{code.co_qualname}"

    def lookup(self, fn: Callable[..., Any]) -> str | None:
        key = self._key(fn)
        return None if key is None else self.entries.get(key[0], {}).get(key[1])

    def store(self, fn: Callable[..., Any], version: str) -> None:
        key = self._key(fn)
        if key is not None:
            self.entries.setdefault(key[0], {})[key[1]] = version
            self.dirty = True


_CACHE = _VersionCache()
_CACHE_FORMAT = f"assetflow-code-versions-1-{VERSION_LENGTH}"


@contextlib.contextmanager
def version_cache(path: Path) -> Iterator[None]:
    """Use (and afterwards update) the code-version cache in ``path`` while importing.

    A missing, unreadable or foreign file is an empty cache. The file is written only into an
    existing folder (the state folder, once a run made it) and a failed write (read-only
    project) is skipped. Only the files seen in this load are kept, so the file stays small.
    """
    try:
        document = json.loads(path.read_text())
        entries = document["files"] if document.get("format") == _CACHE_FORMAT else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        entries = {}
    _CACHE.reset(entries if isinstance(entries, dict) else {})
    _CACHE.active = True
    try:
        yield
    finally:
        _CACHE.active = False
        stale = set(_CACHE.entries) - _CACHE.used
        if _CACHE.dirty or stale:
            kept = {
                digest: _CACHE.entries[digest] for digest in _CACHE.used if digest in _CACHE.entries
            }
            write_atomically(path, json.dumps({"format": _CACHE_FORMAT, "files": kept}))


# filename -> (the file's lines, its function definitions by first line). One parse per module
# instead of one tokenize + parse per function: a module of 1,000 assets loads 3x faster.
_PARSED: dict[str, tuple[list[str], dict[int, ast.FunctionDef | ast.AsyncFunctionDef]]] = {}


def _definition_in_file(fn: Callable[..., Any]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """``fn``'s definition node, found by line in its whole parsed source file (or None)."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_name == "<lambda>":
        return None
    filename = code.co_filename
    linecache.checkcache(filename)
    lines = linecache.getlines(filename)
    if not lines:
        return None
    cached = _PARSED.get(filename)
    if cached is None or cached[0] is not lines:
        try:
            tree = ast.parse("".join(lines))
        except (SyntaxError, ValueError):
            return None
        cached = _PARSED[filename] = (lines, _definitions_by_line(tree))
    found = cached[1].get(code.co_firstlineno)
    return found if found is not None and found.name == code.co_name else None


def _definitions_by_line(tree: ast.Module) -> dict[int, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function definition in ``tree`` by the line its code object starts at.

    Only statements are visited (a definition is always one): walking every expression node
    of a large module would cost more than the parse.
    """
    found: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # A decorated function's code starts at its first decorator.
            found[min([node.lineno, *(d.lineno for d in node.decorator_list)])] = node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, name, None)
            if isinstance(children, list):
                stack.extend(child for child in children if isinstance(child, ast.AST))
    return found


_SQL_TOKEN = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<quoted>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<space>\s+)
  | (?P<other>[^\s'"\-/]+|[\-/])
    """,
    re.VERBOSE | re.DOTALL,
)


def normalize_sql(sql: str) -> str:
    """SQL text with comments removed, whitespace collapsed and unquoted text lowercased."""
    parts: list[str] = []
    pending_space = False
    for match in _SQL_TOKEN.finditer(sql):
        kind = match.lastgroup
        if kind in ("comment", "space"):
            pending_space = bool(parts)
            continue
        if pending_space:
            parts.append(" ")
            pending_space = False
        text = match.group()
        parts.append(text if kind == "quoted" else text.lower())
    return "".join(parts).rstrip(";").strip()


def sql_code_version(sql: str) -> str:
    """A hash of the normalized SQL text; ``{{ ref('x') }}`` counts as ``x``, its synonym."""
    return _digest(normalize_sql(without_refs(sql)))


_TEMPLATE_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def sql_template_variables(sql: str) -> list[str]:
    """The ``{{ name }}`` placeholders used in a SQL asset, in order of first use."""
    seen: dict[str, None] = {}
    for match in _TEMPLATE_VARIABLE.finditer(sql):
        seen.setdefault(match.group(1), None)
    return list(seen)
