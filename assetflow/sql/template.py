"""The template language of SQL assets, as far as loading needs it (no DuckDB here).

A SQL asset may use ``{{ partition_key }}``, ``{{ start }}`` and ``{{ end }}`` (bound as
parameters at run time, :func:`assetflow.io.sql.render_sql`) and ``{{ ref('x') }}`` (or
``{{ref("x")}}``, any whitespace), a synonym of the table name ``x`` so that dbt-style SQL ports
without edits: it is a dependency like ``x``, refused like ``x`` if unknown, has the code
version of ``x``, and reads the mapped partitions of ``x`` at run time.
"""

from __future__ import annotations

import re

PLACEHOLDER_NAMES = ("partition_key", "start", "end")

REF = re.compile(r"""\{\{\s*ref\s*\(\s*(?P<quote>['"])(?P<name>[^'"\n]+)(?P=quote)\s*\)\s*\}\}""")
# Any other {{ ... }}: a placeholder (known or not) or template syntax assetflow does not have.
TEMPLATE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}")


def unsupported_templates(sql: str) -> list[str]:
    """The ``{{ ... }}`` and ``{% ... %}`` of ``sql`` that are neither a placeholder nor a ref."""
    found = [
        match.group()
        for match in TEMPLATE.finditer(REF.sub("", sql))
        if not _PLACEHOLDER.fullmatch(match.group())
    ]
    return found + re.findall(r"\{%.*?%\}|\{%", sql, re.DOTALL)


def without_refs(sql: str) -> str:
    """``sql`` with each ``{{ ref('x') }}`` written ``x`` (for code versions)."""
    return REF.sub(lambda match: match.group("name"), sql)


def _padded(original: bytes, replacement: str) -> bytes:
    """``replacement`` padded to the byte length of ``original``, keeping its line breaks."""
    text = replacement.encode()
    rest = original[len(text) :]
    return text + bytes(b if b == ord("\n") else ord(" ") for b in rest)


def for_parsing(sql: str) -> str:
    """``sql`` as DuckDB's parser can read it, every byte offset and line where it was.

    A ref becomes the quoted name, any other ``{{ ... }}`` a ``NULL`` (a value, as the bound
    parameter it becomes), each padded with spaces to the length it replaces.
    """

    def replace(match: re.Match[str]) -> str:
        original = match.group().encode()
        name = match.group("name") if match.re is REF else None
        if name is None:
            return _padded(original, "NULL").decode()
        quoted = '"' + name.replace('"', '""') + '"'
        return _padded(original, quoted).decode()

    return TEMPLATE.sub(replace, REF.sub(replace, sql))
