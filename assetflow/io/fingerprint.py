"""Data versions: a fingerprint of a relation's content that ignores row order.

The fingerprint hashes the schema (column names and types, in order), the row count and the sum of
a 64-bit hash of every row, summed as HUGEINT so it never wraps. A sum treats the rows as a
multiset: the same rows in any order give the same sum, while a duplicated row adds its hash once
more (XOR would cancel pairs). All of it runs in one SQL aggregate, so rows never leave DuckDB.

The row hash is DuckDB's ``hash()``, about 60 times faster than ``md5`` of each row's text. DuckDB
does not promise that ``hash()`` stays the same across releases; if an upgrade changes it, every
asset gets a new data version the next time it is materialized (``test_fingerprint_is_stable``
notices such an upgrade).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import duckdb

from assetflow.io.warehouse import quote_identifier

# Part of every digest: bump it when the recipe changes, so old and new versions never collide.
_RECIPE = "assetflow-fingerprint-v1"
DATA_VERSION_LENGTH = 16


@dataclass(frozen=True)
class Fingerprint:
    """The data version of some rows and how many rows there are."""

    data_version: str
    row_count: int


def relation_schema(relation: duckdb.DuckDBPyRelation) -> list[tuple[str, str]]:
    """``[(column, type), ...]`` of a relation, types spelled as DuckDB spells them."""
    return [
        (str(name), str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True)
    ]


def fingerprint(relation: duckdb.DuckDBPyRelation) -> Fingerprint:
    """The order-independent content fingerprint of ``relation`` (runs on its own connection)."""
    schema = relation_schema(relation)
    columns = ", ".join(quote_identifier(name) for name, _ in schema)
    row = relation.aggregate(
        f"count(*) AS row_count, coalesce(sum(hash({columns})::HUGEINT), 0) AS row_hash_sum"
    ).fetchall()[0]
    row_count, hash_sum = int(row[0]), int(row[1])
    return Fingerprint(digest(schema, row_count, hash_sum), row_count)


def digest(schema: list[tuple[str, str]], row_count: int, hash_sum: int) -> str:
    """The data version of rows with this schema, count and sum of row hashes."""
    payload = json.dumps([_RECIPE, schema, row_count, str(hash_sum)], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:DATA_VERSION_LENGTH]
