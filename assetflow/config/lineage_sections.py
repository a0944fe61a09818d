"""``[lineage.openlineage]`` of ``assets.toml``: where the OpenLineage events of every step
attempt go (see :mod:`assetflow.lineage_export` and docs/lineage.md); part of
:class:`~assetflow.config.models.ProjectConfig`.

Only the shape is checked here (a known transport ``type`` and its required keys); that the
``openlineage-python`` client is installed and accepts every key is checked when the project
loads (:func:`assetflow.lineage_export.openlineage_listener`).
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from assetflow.config.fields import Located, Problems, Section, Text, raise_any

__all__ = ["TRANSPORT_TYPES", "LineageSection", "OpenLineageSection"]

# The openlineage-python client's transports assetflow supports, with their required keys.
TRANSPORT_TYPES: dict[str, tuple[str, ...]] = {
    "http": ("url",),
    "file": ("log_file_path",),
    "console": (),
    "kafka": ("topic", "config"),
}

# The types of the keys the client reads without checking them (TOML gives exact types).
_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "priority": (int,),
    "url": (str,),
    "endpoint": (str,),
    "timeout": (int, float),
    "verify": (bool,),
    "custom_headers": (dict,),
    "retry": (dict,),
    "auth": (dict,),
    "compression": (str,),
    "log_file_path": (str,),
    "append": (bool,),
    "debug_mode": (bool,),
    "storage_options": (dict,),
    "filesystem": (str,),
    "fs_kwargs": (dict,),
    "topic": (str,),
    "config": (dict,),
    "messageKey": (str,),
    "message_key": (str,),
    "flush": (bool,),
}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _wrong_type(key: str, value: object) -> str | None:
    expected = _TYPES.get(key)
    if expected is None:
        return None
    if isinstance(value, bool) and bool not in expected:
        return _TYPE_NAMES.get(expected[-1], "a table")
    if isinstance(value, expected):
        return None
    return _TYPE_NAMES.get(expected[-1], "a table")


class OpenLineageSection(Section):
    """``[lineage.openlineage]``: the job ``namespace`` and the client's ``transport`` table
    (``type`` and that transport's own keys, as the client's documentation names them)."""

    namespace: Text
    transport: dict[str, Any]

    @field_validator("transport")
    @classmethod
    def _transport(cls, transport: dict[str, Any]) -> dict[str, Any]:
        kind = transport.get("type")
        known = ", ".join(repr(name) for name in TRANSPORT_TYPES)
        if kind is None:
            raise Located([(("type",), f"missing required key (one of {known})")])
        if not isinstance(kind, str) or kind not in TRANSPORT_TYPES:
            raise Located([(("type",), f"expected one of {known}, got {kind!r}")])
        problems: Problems = [
            ((key,), f"missing required key for transport type {kind!r}")
            for key in TRANSPORT_TYPES[kind]
            if key not in transport
        ]
        for key, value in transport.items():
            wanted = _wrong_type(key, value)
            if wanted is not None and key != "type":
                problems.append(((key,), f"expected {wanted}, got {value!r}"))
        url = transport.get("url", "http://")
        if kind == "http" and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            problems.append((("url",), f"expected an http(s) URL, got {url!r}"))
        raise_any(problems)
        return transport


class LineageSection(Section):
    """``[lineage]``: lineage exports; ``openlineage`` is the only one so far."""

    openlineage: OpenLineageSection | None = None
