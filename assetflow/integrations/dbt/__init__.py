"""dbt projects as assets (``[dbt]`` in ``assets.toml``, extra ``assetflow[dbt]``; docs/dbt.md).

- :mod:`.project`: one dbt project: where it is, its profile, invoking dbt in-process.
- :mod:`.manifest`: the manifest, parsed once per content of the project's files, read into
  asset and check definitions.
- :mod:`.nodes`: the inert records an asset keeps of its dbt node.

Nothing here imports dbt at module level: only a project with ``[dbt]`` ever loads it.
"""

from __future__ import annotations

from assetflow.definitions.dbt_nodes import DbtNode, DbtTest
from assetflow.integrations.dbt.manifest import DbtDefinitions, load_dbt_definitions
from assetflow.integrations.dbt.project import DbtProject, DbtRunOutcome, require_dbt

__all__ = [
    "DbtDefinitions",
    "DbtNode",
    "DbtProject",
    "DbtRunOutcome",
    "DbtTest",
    "load_dbt_definitions",
    "require_dbt",
]
