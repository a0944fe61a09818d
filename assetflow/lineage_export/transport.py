"""The ``openlineage-python`` transport of ``[lineage.openlineage]``, checked when the project
loads: the client must be installed, and the transport table must hold only keys the client's
transport config knows, with values it accepts."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from assetflow.config.fields import display_path
from assetflow.config.lineage_sections import OpenLineageSection
from assetflow.errors import ConfigError, did_you_mean

__all__ = ["INSTALL_HINT", "make_transport"]

INSTALL_HINT = "pip install 'assetflow[openlineage]'"
# Keys the client's transport factory takes for every transport, beside the config's fields.
_FACTORY_KEYS = {"type", "name", "priority"}
# Fields of the client's configs that a file cannot give (objects set in code).
_CODE_ONLY = {"session", "adapter"}
_ALIASES = {"http": {"sslContext", "sslcontext"}, "kafka": {"message_key"}}
# assetflow retries deliveries itself (docs/lineage.md); the HTTP client's own retries would
# multiply them, so they are off unless the table sets `retry`.
_NO_HTTP_RETRY = {"total": 0, "connect": 0, "read": 0}


def make_transport(section: OpenLineageSection, config_path: Path) -> Any:
    """The client's transport for ``section``; ConfigError naming the file and key if the
    client is missing or the transport table is not one it accepts."""
    shown = display_path(config_path)
    where = f"{shown}: lineage.openlineage"
    try:
        from openlineage.client.transport import get_default_factory
    except ImportError:
        raise ConfigError(
            f"{where}: needs the openlineage-python client, which is not installed: {INSTALL_HINT}"
        ) from None
    settings = dict(section.transport)
    kind = str(settings["type"])
    factory = get_default_factory()
    allowed = _FACTORY_KEYS | _ALIASES.get(kind, set()) | _config_fields(factory, kind)
    for key in settings:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(
                f"{where}.transport.{key}: unknown key for transport type {kind!r}"
                f"{did_you_mean(key, allowed)} (expected one of: {known})"
            )
    if kind == "http" and "retry" not in settings:
        settings["retry"] = dict(_NO_HTTP_RETRY)
    if kind == "file":
        # Relative to the project, as every path in assets.toml is; its folder is made.
        target = str(settings["log_file_path"])
        if "://" not in target:
            path = config_path.parent / target
            path.parent.mkdir(parents=True, exist_ok=True)
            settings["log_file_path"] = str(path)
    client_log = logging.getLogger("openlineage")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)  # it logs a traceback before raising: ours says it
    try:
        return factory.create(settings)
    except ImportError as exc:  # kafka without confluent-kafka, a filesystem not installed
        extra = " (pip install 'openlineage-python[kafka]')" if kind == "kafka" else ""
        raise ConfigError(
            f"{where}.transport: type {kind!r} needs a package that is not installed: {exc}{extra}"
        ) from None
    except Exception as exc:  # the client's own validation: bad URL, wrong types
        raise ConfigError(f"{where}.transport: {type(exc).__name__}: {exc}") from None
    finally:
        client_log.setLevel(level)


def _config_fields(factory: Any, kind: str) -> set[str]:
    """The keys the client's config class of transport ``kind`` knows."""
    from openlineage.client.utils import import_from_string

    transport = factory.transports.get(kind)
    if isinstance(transport, str):
        try:
            transport = import_from_string(transport)
        except ImportError:
            return set()
    config = getattr(transport, "config_class", None)
    if isinstance(config, str):
        config = import_from_string(config)
    if config is None:
        return set()
    import attr

    names: set[str] = set()
    if dataclasses.is_dataclass(config):  # the file transport's config
        names |= {field.name for field in dataclasses.fields(config)}
    if attr.has(config):  # the others'
        names |= {field.name for field in attr.fields(config)}
    return names - _CODE_ONLY
