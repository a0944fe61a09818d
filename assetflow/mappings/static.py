"""``StaticMapping``: explicit lists of upstream keys per downstream key (static partitions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from assetflow.errors import DefinitionError, PartitionError
from assetflow.mappings.basic import PartitionMapping, ordered_keys
from assetflow.partitions.core import (
    PartitionsDefinition,
)


@dataclass(frozen=True, init=False)
class StaticMapping(PartitionMapping):
    """An explicit table ``{downstream_key: [upstream_keys]}``.

    ``StaticMapping({"eu": ["de", "fr"]})`` means downstream ``eu`` reads upstream ``de`` and
    ``fr``; downstream keys absent from the table read nothing.
    """

    mapping: tuple[tuple[str, tuple[str, ...]], ...]

    def __init__(self, mapping: Mapping[str, Sequence[str] | str]) -> None:
        if not isinstance(mapping, Mapping):
            raise DefinitionError(
                f"a static mapping takes a dict of downstream key -> upstream keys, got {mapping!r}"
            )
        pairs = []
        for down, ups in mapping.items():
            # A bare string is one key, not a sequence of one-letter keys.
            values = (ups,) if isinstance(ups, str) else tuple(ups)
            if not isinstance(down, str) or not all(isinstance(up, str) for up in values):
                raise DefinitionError(f"a static mapping maps keys to lists of keys, got {down!r}")
            pairs.append((down, values))
        object.__setattr__(self, "mapping", tuple(pairs))

    @cached_property
    def _table(self) -> dict[str, tuple[str, ...]]:
        return dict(self.mapping)

    def upstream_keys(
        self,
        downstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """The listed upstream keys that upstream has, in upstream order."""
        return ordered_keys(upstream, self._table.get(downstream_key, ()), now, existing=False)

    def downstream_keys(
        self,
        upstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """The existing downstream keys whose list names ``upstream_key``."""
        try:
            key = upstream.canonical_key(upstream_key)
        except PartitionError:
            return []
        readers = [
            down
            for down, ups in self.mapping
            if key in ordered_keys(upstream, ups, now, existing=False)
        ]
        return ordered_keys(downstream, readers, now, existing=True)

    def validate(self, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
        """Every key in the table must be a partition of its side."""
        for down, ups in self.mapping:
            for side, definition, key in [("downstream", downstream, down)] + [
                ("upstream", upstream, up) for up in ups
            ]:
                try:
                    definition.canonical_key(key)
                except PartitionError as error:
                    raise DefinitionError(
                        f"{self.describe()} names {side} key {key!r}: {error}"
                    ) from None

    def describe(self) -> str:
        """``static{eu: [de, fr], ...}``."""
        inner = ", ".join(f"{down}: [{', '.join(ups)}]" for down, ups in self.mapping)
        return f"static{{{inner}}}"
