"""Finding and reading ``assets.toml`` into a validated config, without pydantic when it can.

:func:`load_config` reads the file's bytes; bytes validated before come back from the config
cache (:mod:`.config_cache`), and only others are parsed and validated by the pydantic models
(:func:`assetflow.config.models.parse_config`), which also keep the result for next time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, cast

from assetflow.errors import ConfigError

if TYPE_CHECKING:
    from assetflow.config.models import ProjectConfig

__all__ = ["CONFIG_FILENAME", "display_path", "find_config", "load_config"]

CONFIG_FILENAME = "assets.toml"


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


def find_config(start: Path | None = None) -> Path:
    """The ``assets.toml`` at or above ``start`` (default: the current folder).

    ``start`` may also be the file itself. Raises :class:`ConfigError` if there is none.
    """
    here = (Path.cwd() if start is None else Path(start).expanduser()).resolve()
    if here.is_file():
        return here
    if not here.exists():
        raise ConfigError(f"{here}: no such file or folder")
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILENAME).is_file():
            return folder / CONFIG_FILENAME
    raise ConfigError(
        f"no {CONFIG_FILENAME} found in {here} or any parent folder; "
        "run `assetflow init` or pass --project PATH"
    )


def load_config(path: Path) -> ProjectConfig:
    """Read and validate ``path`` (an ``assets.toml``, or a folder holding one)."""
    from assetflow.config.config_cache import cached_config, keep_config

    path = Path(path).expanduser()
    if path.is_dir():
        path = path / CONFIG_FILENAME
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{shown}: no such file; run `assetflow init` or pass --project PATH"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    resolved = path.resolve()
    cached = cached_config(resolved, raw)
    if cached is not None:
        # What parse_config does after validating: the path, then the storage clash check
        # (it depends on the file system, not on the bytes).
        from assetflow.config.storage_paths import storage_clashes

        config = cast("ProjectConfig", cached)
        config._path = resolved
        for key, message in storage_clashes(config.storage.resolve(config.root))[:1]:
            raise ConfigError(f"{shown}: storage.{key}: {message}")
        return config
    from assetflow.config.models import parse_config

    config = parse_config(_toml(raw, shown), path)
    keep_config(resolved, raw, config)
    return config


def _toml(raw: bytes, shown: str) -> dict[str, object]:
    import tomllib

    try:
        # utf-8-sig: editors on Windows start UTF-8 files with a byte-order mark.
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{shown}: invalid TOML at line {line}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        found = re.fullmatch(r"(.*) \(at (line \d+, column \d+|end of document)\)", str(exc))
        where = f"invalid TOML at {found[2]}: {found[1]}" if found else f"invalid TOML: {exc}"
        raise ConfigError(f"{shown}: {where}") from None
