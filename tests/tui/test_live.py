"""The UI follows a backfill that another process runs, without errors and without blocking it."""

from __future__ import annotations

import os
import subprocess
import sys

from pilots import rows_of, runs_of, settle, sync, text_of, wait_until

from assetflow import Project
from assetflow.tui.app import AssetflowApp
from assetflow.tui.runs_screen import RunsScreen


@sync
async def test_screens_follow_a_backfill_in_another_process(seeded: Project) -> None:
    env = {**os.environ, "AF_TEST_SLOW": "0.4", "NO_COLOR": "1"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assetflow",
            "backfill",
            "raw",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-14",
            "--workers",
            "1",
            "--json",
        ],
        cwd=seeded.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        app = AssetflowApp(seeded, refresh_interval=0.3)  # the real clock: runs are live
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await wait_until(pilot, lambda: "1 run in progress" in text_of(app, "#status"))
            await wait_until(
                pilot, lambda: ["raw", "running"] in [r[:2] for r in rows_of(app, "#assets")]
            )
            await pilot.press("2")
            await settle(pilot)
            assert isinstance(app.screen, RunsScreen)
            seen: set[str] = set()

            def progressed() -> bool:
                row = next(r for r in runs_of(app) if r["Kind"] == "backfill")
                seen.add(
                    row["Progress"].split()[-1] if row["Status"] == "running" else row["Status"]
                )
                return row["Status"] == "success"

            await wait_until(pilot, progressed, timeout=60)
            # Several intermediate counts were shown while it ran, then its success.
            assert len([s for s in seen if "/" in s]) >= 2, seen
            assert "success" in seen
            assert "cannot read" not in text_of(app, "#status")
            await pilot.press("1")
            await wait_until(pilot, lambda: "0 runs in progress" in text_of(app, "#status"))
            assert ["raw", "fresh"] in [r[:2] for r in rows_of(app, "#assets")]
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
