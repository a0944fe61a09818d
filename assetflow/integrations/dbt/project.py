"""One dbt project: where it lives, which profile it uses, and dbt invoked in-process.

dbt runs inside the assetflow process (``dbtRunner``), never as a subprocess. It is not safe to
run two dbt commands at once in one process, so every invocation holds one process-wide lock.
Its artifacts (``target/``, logs) go under the state folder (``.assetflow/dbt/``), never into
the user's dbt project.

Unless ``profiles_dir`` is given, assetflow writes the profile itself, at each invocation: the
project's profile name with one ``duckdb`` target whose ``path`` is the warehouse, so that
dbt builds its relations exactly where the duckdb IO manager keeps assetflow's tables
(``keep_open: false``: dbt lets go of the file when it is done).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assetflow.errors import DefinitionError, ProjectLoadError

INSTALL_HINT = "pip install 'assetflow[dbt]'"
GENERATED_TARGET = "assetflow"
# dbt is not safe to invoke twice at once in one process.
_INVOKE_LOCK = threading.Lock()
# dbt's parsed manifests, by project folder and content key (see DbtProject.manifest).
_MANIFESTS: dict[tuple[Path, str], Any] = {}


# A file of each package of the extra, inside the ``dbt`` namespace package.
_PACKAGE_FILES = (("dbt-core", "cli/main.py"), ("dbt-duckdb", "adapters/duckdb/__init__.py"))


def require_dbt(where: str) -> None:
    """Raise a ProjectLoadError naming the extra unless dbt-core and dbt-duckdb are installed.

    Looks for their files without importing them (importing dbt takes seconds).
    """
    try:
        spec = importlib.util.find_spec("dbt")
    except (ImportError, ValueError):
        spec = None
    folders = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for package, file in _PACKAGE_FILES:
        if not any((folder / file).is_file() for folder in folders):
            raise ProjectLoadError(
                f"{where} configures a dbt project, but dbt is not installed "
                f"(missing {package}); install it with: {INSTALL_HINT}"
            )


@dataclass(frozen=True)
class NodeResult:
    """What dbt reported for one node of an invocation."""

    status: str  # dbt's: success, error, skipped, pass, fail, warn, ...
    message: str | None = None
    failures: int | None = None


@dataclass(frozen=True)
class DbtRunOutcome:
    """The result of one dbt invocation: whether it ran, and each node's result."""

    success: bool
    results: Mapping[str, NodeResult] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class DbtProject:
    """A dbt project configured by ``[dbt]``, with the paths assetflow runs it with."""

    project_dir: Path
    work_dir: Path  # under the state folder: target/, logs/, the generated profile
    warehouse: Path
    profiles_dir: Path | None = None
    target: str | None = None
    # The hash of the project's files when it was loaded (keys the parsed manifest).
    content_key: str = ""

    @property
    def target_path(self) -> Path:
        return self.work_dir / "target"

    def profile_name(self) -> str:
        """The ``profile:`` of ``dbt_project.yml`` (its project name when absent)."""
        import yaml  # type: ignore[import-untyped,unused-ignore]

        path = self.project_dir / "dbt_project.yml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise DefinitionError(f"dbt project {path}: cannot read: {exc}") from None
        name = data.get("profile") or data.get("name")
        if not isinstance(name, str):
            raise DefinitionError(f"{path}: no profile or name")
        return name

    def profile_text(self) -> str:
        """The generated ``profiles.yml`` (JSON is YAML): one duckdb target on the warehouse."""
        output = {
            "type": "duckdb",
            "path": str(self.warehouse.resolve()),
            "threads": 1,
            "keep_open": False,
        }
        profile = {"target": GENERATED_TARGET, "outputs": {GENERATED_TARGET: output}}
        return json.dumps({self.profile_name(): profile}, indent=2) + "\n"

    def _profiles_dir(self) -> Path:
        if self.profiles_dir is not None:
            return self.profiles_dir
        folder = self.work_dir / "profile"
        folder.mkdir(parents=True, exist_ok=True)
        text = self.profile_text()
        path = folder / "profiles.yml"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        return folder

    def common_args(self) -> list[str]:
        """The flags every invocation takes: where the project, profile and artifacts are."""
        args = [
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self._profiles_dir()),
            "--target-path",
            str(self.target_path),
            "--log-path",
            str(self.work_dir / "logs"),
            "--no-use-colors",
            "--no-send-anonymous-usage-stats",
            "--no-version-check",
            "--quiet",
        ]
        if self.target is not None:
            args += ["--target", self.target]
        return args

    def invoke(
        self,
        command: Sequence[str],
        *,
        manifest: Any = None,
        log: logging.Logger | None = None,
    ) -> Any:
        """Run one dbt command in-process (``dbtRunner``); returns its ``dbtRunnerResult``.

        dbt's log events go to ``log`` (info and above). The DuckDB environment dbt-duckdb keeps
        between invocations is closed afterwards, so dbt never holds the warehouse file.
        """
        require_dbt("[dbt]")
        from dbt.cli.main import dbtRunner

        callbacks: list[Callable[[Any], None]] = [] if log is None else [_forward_to(log)]
        with _INVOKE_LOCK:
            os.environ.setdefault("DO_NOT_TRACK", "1")
            try:
                runner = dbtRunner(manifest=manifest, callbacks=callbacks)
                return runner.invoke([*command, *self.common_args()])
            finally:
                _close_duckdb_environment()

    def parse(self) -> dict[str, Any]:
        """Parse the project (``dbt parse``) and return its ``manifest.json`` as a dict."""
        result = self.invoke(["parse"])
        if not result.success:
            raise DefinitionError(
                f"dbt project {self.project_dir}: dbt parse failed: {_failure(result)}"
            )
        if self.content_key:
            _MANIFESTS[(self.project_dir, self.content_key)] = result.result
        manifest: dict[str, Any] = json.loads(
            (self.target_path / "manifest.json").read_text(encoding="utf-8")
        )
        return manifest

    def manifest(self) -> Any:
        """dbt's parsed Manifest, once per process and content of the project: handed to
        every later invocation, so that dbt does not parse the project again."""
        key = (self.project_dir, self.content_key)
        if key not in _MANIFESTS:
            result = self.invoke(["parse"])
            if not result.success:
                raise DefinitionError(
                    f"dbt project {self.project_dir}: dbt parse failed: {_failure(result)}"
                )
            _MANIFESTS[key] = result.result
        return _MANIFESTS[key]

    def list_names(self, selection: str) -> list[str]:
        """The models, seeds and snapshots dbt's own selection syntax selects (``dbt ls``)."""
        result = self.invoke(
            [
                "ls",
                "--select",
                selection,
                "--resource-types",
                "model",
                "seed",
                "snapshot",
                "--output",
                "name",
            ],
            manifest=self.manifest(),
        )
        if not result.success:
            raise DefinitionError(f"dbt selection {selection!r}: {_failure(result)}")
        return [str(name) for name in result.result or []]

    def build(
        self,
        selection: Sequence[str],
        variables: Mapping[str, str] | None,
        log: logging.Logger | None = None,
    ) -> DbtRunOutcome:
        """``dbt build`` of exactly ``selection`` (node and test names): no test is pulled in
        indirectly. ``variables`` become ``--vars``."""
        command = ["build", "--select", *selection, "--indirect-selection", "empty"]
        if variables:
            command += ["--vars", json.dumps(dict(variables))]
        result = self.invoke(command, manifest=self.manifest(), log=log)
        results: dict[str, NodeResult] = {}
        for node_result in getattr(result.result, "results", None) or []:
            failures = getattr(node_result, "failures", None)
            results[node_result.node.unique_id] = NodeResult(
                status=str(getattr(node_result.status, "value", node_result.status)),
                message=node_result.message,
                failures=int(failures) if failures is not None else None,
            )
        error = None if result.exception is None else _failure(result)
        return DbtRunOutcome(bool(result.success), results, error)


def _failure(result: Any) -> str:
    exception = getattr(result, "exception", None)
    if exception is not None:
        return f"{type(exception).__name__}: {exception}"
    return "dbt reported a failure (see its log under .assetflow/dbt/logs)"


def _forward_to(log: logging.Logger) -> Callable[[Any], None]:
    levels = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}

    def forward(event: Any) -> None:
        info = getattr(event, "info", None)
        level = levels.get(str(getattr(info, "level", "debug")), logging.ERROR)
        message = getattr(info, "msg", "")
        if level >= logging.INFO and message:
            log.log(level, "dbt: %s", message)

    return forward


def _close_duckdb_environment() -> None:
    """Close the DuckDB connection dbt-duckdb keeps between invocations (``keep_open``)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    environment = getattr(DuckDBConnectionManager, "_ENV", None)
    if environment is not None:
        try:
            environment.close()
        finally:
            DuckDBConnectionManager._ENV = None
