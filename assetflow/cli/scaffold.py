"""`assetflow init`: write a small working project from the templates in ``assetflow/templates``."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from assetflow.config.models import CONFIG_FILENAME
from assetflow.errors import ConfigError

MODULE_FILENAME = "pipeline.py"


def project_name_for(directory: Path) -> str:
    """A project name from a folder name: lowercase words joined by underscores."""
    words = re.findall(r"[A-Za-z0-9]+", directory.resolve().name)
    return "_".join(words).lower() or "my_project"


def write_project(directory: Path, name: str | None = None) -> list[Path]:
    """Write ``assets.toml`` and ``pipeline.py`` into ``directory`` (created if needed).

    Refuses to overwrite either file, so running ``init`` twice never loses work.
    """
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} exists and is not a folder")
    targets = {
        CONFIG_FILENAME: directory / CONFIG_FILENAME,
        MODULE_FILENAME: directory / MODULE_FILENAME,
    }
    existing = [str(path) for path in targets.values() if path.exists()]
    if existing:
        raise ConfigError(f"not overwriting existing {', '.join(existing)}")
    if name is not None and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise ConfigError(
            f"--name {name!r}: use letters, digits, '_', '-' and '.' (it goes into assets.toml)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    templates = resources.files("assetflow") / "templates"
    values = {"name": name or project_name_for(directory)}
    written = []
    for template, target in (
        ("assets.toml.tmpl", targets[CONFIG_FILENAME]),
        ("pipeline.py.tmpl", targets[MODULE_FILENAME]),
    ):
        text = (templates / template).read_text(encoding="utf-8").format(**values)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
