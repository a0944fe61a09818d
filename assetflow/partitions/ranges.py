"""Sets of partition indexes as sorted, disjoint, half-open ranges ``[lo, hi)``.

A million partitions of one asset are a handful of ranges when they are missing or made in
runs: counting, intersecting and membership tests are arithmetic over the ranges, never a
Python object per index. Every function is pure and returns a normalized tuple: sorted, no
empty range, no two ranges touching or overlapping.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

Range = tuple[int, int]
Ranges = tuple[Range, ...]


def normalize(ranges: Iterable[Range]) -> Ranges:
    """``ranges`` sorted and merged: empty ones dropped, touching or overlapping ones joined."""
    merged: list[list[int]] = []
    for lo, hi in sorted(r for r in ranges if r[0] < r[1]):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def from_indexes(indexes: Iterable[int]) -> Ranges:
    """The ranges holding exactly ``indexes`` (in any order, repeats allowed)."""
    return normalize((i, i + 1) for i in indexes)


def count(ranges: Ranges) -> int:
    """How many indexes ``ranges`` hold."""
    return sum(hi - lo for lo, hi in ranges)


def contains(ranges: Ranges, index: int) -> bool:
    """Whether ``index`` lies in one of ``ranges`` (normalized)."""
    at = bisect.bisect_right(ranges, (index, float("inf"))) - 1
    return at >= 0 and ranges[at][0] <= index < ranges[at][1]


def complement(ranges: Ranges, total: int) -> Ranges:
    """The indexes of ``[0, total)`` that ``ranges`` (normalized) do not hold."""
    gaps: list[Range] = []
    at = 0
    for lo, hi in ranges:
        lo, hi = min(max(lo, 0), total), min(max(hi, 0), total)
        if lo > at:
            gaps.append((at, lo))
        at = max(at, hi)
    if at < total:
        gaps.append((at, total))
    return tuple(gaps)


def intersect(a: Ranges, b: Ranges) -> Ranges:
    """The indexes both ``a`` and ``b`` (normalized) hold."""
    found: list[Range] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            found.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(found)


def difference(a: Ranges, b: Ranges) -> Ranges:
    """The indexes ``a`` holds and ``b`` does not (both normalized)."""
    found: list[Range] = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] <= lo:
            j += 1
        k = j
        while lo < hi and k < len(b) and b[k][0] < hi:
            if b[k][0] > lo:
                found.append((lo, b[k][0]))
            lo = max(lo, b[k][1])
            k += 1
        if lo < hi:
            found.append((lo, hi))
    return tuple(found)


def nth(ranges: Ranges, n: int) -> int:
    """The ``n``-th smallest index ``ranges`` hold (0-based); IndexError past the end."""
    if n >= 0:
        for lo, hi in ranges:
            if n < hi - lo:
                return lo + n
            n -= hi - lo
    raise IndexError(n)


def indexes(ranges: Ranges) -> Iterator[int]:
    """Every index, in order."""
    for lo, hi in ranges:
        yield from range(lo, hi)
