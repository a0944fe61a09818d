"""``[dbt]``: the dbt project's models, seeds and snapshots joined to the project's assets.

Imported only for a project that has a ``[dbt]`` table (so dbt is never loaded otherwise).
"""

from __future__ import annotations

from pathlib import Path

from assetflow.config.models import ProjectConfig
from assetflow.definitions.assets import AssetDef
from assetflow.definitions.checks import CheckDef
from assetflow.errors import GraphError
from assetflow.integrations.dbt import DbtProject, load_dbt_definitions


def dbt_project_of(config: ProjectConfig) -> DbtProject:
    """The :class:`DbtProject` that ``[dbt]`` configures, its paths resolved."""
    section = config.dbt
    assert section is not None

    def resolved(text: str) -> Path:
        path = Path(text).expanduser()
        return (path if path.is_absolute() else config.root / path).resolve()

    return DbtProject(
        project_dir=resolved(section.project_dir),
        work_dir=config.state_path.parent / "dbt",
        warehouse=config.warehouse_path,
        profiles_dir=None if section.profiles_dir is None else resolved(section.profiles_dir),
        target=section.target,
    )


def add_dbt_definitions(
    config: ProjectConfig, assets: dict[str, AssetDef], sql_names: set[str]
) -> list[CheckDef]:
    """Add the dbt project's assets to ``assets`` (by name); returns its checks (dbt tests).

    dbt sources may name any of ``assets`` (Python assets, sources) or ``sql_names``.
    """
    loaded = load_dbt_definitions(dbt_project_of(config), set(assets) | sql_names)
    for definition in loaded.assets:
        if definition.name in assets or definition.name in sql_names:
            other = assets[definition.name].source if definition.name in assets else "SQL"
            raise GraphError(
                f"two definitions are named '{definition.name}': {other} "
                f"and the dbt {definition.dbt.resource_type if definition.dbt else 'node'} "
                f"{definition.source.removeprefix('dbt ')}; rename one (a dbt alias does not help)"
            )
        assets[definition.name] = definition
    return list(loaded.checks)
