"""Actions run as child processes (``python -m assetflow ... --json``), never in the UI.

A child survives the UI (its own session: quitting the UI or Ctrl-C in it does not stop the
run), never blocks it, and shows up in the Runs screen like a run started from a shell. Its
output goes to a log file under ``.assetflow/ui/``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

EXIT_MEANINGS = {0: "succeeded", 1: "finished with failed steps", 2: "refused", 130: "cancelled"}


@dataclass
class Action:
    """One child process started from the UI."""

    label: str
    process: subprocess.Popen[bytes]
    log: Path

    def poll(self) -> int | None:
        return self.process.poll()

    def outcome(self) -> str:
        """``"materialize orders succeeded"``; a refusal quotes the child's last line."""
        code = self.process.returncode
        text = f"{self.label} {EXIT_MEANINGS.get(code, f'exited with {code}')}"
        if code == 2:
            lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            if lines:
                text += f": {lines[-1]}"
        return text


def start(root: Path, state_dir: Path, args: list[str], label: str, now: datetime) -> Action:
    """Start ``assetflow ARGS --json`` for the project at ``root``."""
    folder = state_dir / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{now:%Y%m%d-%H%M%S-%f}-{args[0]}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "assetflow", "--project", str(root), *args, "--json"],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Action(label, process, log)
