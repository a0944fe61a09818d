"""``[project] listeners``: the user's run listeners, named ``"module:Class"`` in
``assets.toml`` (see docs/listeners.md), imported with the project's modules on the path."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from assetflow.errors import DefinitionError

if TYPE_CHECKING:
    from assetflow.config.models import ProjectConfig

_LISTENER_METHODS = (
    "run_started",
    "step_started",
    "step_finished",
    "check_result",
    "run_finished",
    "freshness_violation",
)


def load_listeners(config: ProjectConfig) -> list[object]:
    """The run listeners ``[project] listeners`` names (``"module:Class"``), each built with
    no arguments; a name that does not resolve to one is a DefinitionError naming it."""
    found: list[object] = []
    for index, entry in enumerate(config.project.listeners):
        where = f"{config.path.name}: project.listeners[{index}] = {entry!r}"
        module_name, _, attribute = entry.partition(":")
        if not module_name or not attribute:
            raise DefinitionError(f'{where}: expected "module:Class"')
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise DefinitionError(f"{where}: cannot import {module_name}: {exc}") from None
        factory = getattr(module, attribute, None)
        if factory is None:
            raise DefinitionError(f"{where}: {module_name} has no {attribute!r}")
        try:
            listener = factory() if isinstance(factory, type) else factory
        except Exception as exc:
            raise DefinitionError(f"{where}: {attribute}() failed: {exc}") from None
        if not any(callable(getattr(listener, m, None)) for m in _LISTENER_METHODS):
            methods = ", ".join(_LISTENER_METHODS)
            raise DefinitionError(f"{where}: not a run listener (it has none of {methods})")
        found.append(listener)
    return found
