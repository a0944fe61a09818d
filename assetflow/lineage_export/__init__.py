"""The OpenLineage export (``pip install 'assetflow[openlineage]'``): a run listener that
sends an OpenLineage run event for every step attempt (see docs/lineage.md).

- :mod:`~assetflow.lineage_export.transport`: the client transport of ``[lineage.openlineage]``,
  checked when the project loads.
- :mod:`~assetflow.lineage_export.facets`: the events, built with the client's models.
- :mod:`~assetflow.lineage_export.datasets`: which dataset each asset is.
- :mod:`~assetflow.lineage_export.delivery`: the bounded background outbox.
- :mod:`~assetflow.lineage_export.listener`: :class:`OpenLineageListener`.

Only ``facets`` (and the transport, when it is made) import the ``openlineage`` client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assetflow.lineage_export.listener import OpenLineageListener
from assetflow.lineage_export.transport import INSTALL_HINT, make_transport

if TYPE_CHECKING:
    from assetflow.lineage_export.listener import ExportedProject

__all__ = ["INSTALL_HINT", "OpenLineageListener", "make_transport", "openlineage_listener"]


def openlineage_listener(project: ExportedProject) -> OpenLineageListener | None:
    """The project's OpenLineage listener, or ``None`` without ``[lineage.openlineage]``;
    ConfigError if the section cannot be used (client missing, bad transport)."""
    section = project.config.lineage.openlineage
    if section is None:
        return None
    transport = make_transport(section, project.config.path)
    return OpenLineageListener(project, section, transport)
