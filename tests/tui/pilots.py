"""Helpers to drive the app under Pilot."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from textual.pilot import Pilot

from assetflow.tui.app import AssetflowApp


async def settle(pilot: Pilot[None], pause: float = 0.0) -> None:
    """Let pending loads (worker threads) and their rendering finish."""
    if pause:
        await pilot.pause(pause)
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def wait_until(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 30.0
) -> None:
    """Pause until ``condition()`` holds (the app keeps running meanwhile)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the UI")
        await asyncio.sleep(0.1)
        await pilot.pause()


def text_of(app: AssetflowApp, selector: str) -> str:
    """The plain text a Static (or any simple widget) shows."""
    return str(app.screen.query_one(selector).render())


def rows_of(app: AssetflowApp, selector: str) -> list[list[str]]:
    """The cells of a DataTable as plain text, row by row."""
    from textual.widgets import DataTable

    table = app.screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with ``asyncio.run`` (no async pytest plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def screen_lines(app: AssetflowApp) -> list[str]:
    """What the terminal shows, line by line (the screen on top, composed)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


class SlowReads:
    """Make one screen class's reads slow on demand (a busy state file, made deterministic):
    after :meth:`hold`, a read runs for real and then waits for :meth:`release` before its
    result is handed to the screen. The real ``load`` still does all the reading."""

    def __init__(self, screen: type[Any]) -> None:
        self.screen = screen
        self.real = screen.load
        self.gate = threading.Event()
        self.gate.set()
        self.read = threading.Event()  # a held read has read its data

    def __enter__(self) -> SlowReads:
        real, gate, read = self.real, self.gate, self.read

        def load(screen: Any) -> Any:
            data = real(screen)
            if not gate.is_set():
                read.set()
                gate.wait(10)
            return data

        self.screen.load = load
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.screen.load = self.real

    def hold(self) -> None:
        self.read.clear()
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()


def cells_of(app: AssetflowApp, selector: str) -> list[dict[str, str]]:
    """The cells of a DataTable as plain text, row by row, by column label."""
    from textual.widgets import DataTable

    table = app.screen.query_one(selector, DataTable)
    labels = [str(column.label) for column in table.columns.values()]
    return [dict(zip(labels, row, strict=True)) for row in rows_of(app, selector)]


def type_at_once(app: AssetflowApp, keys: str) -> None:
    """Send key presses the way a terminal does, all at once, without waiting in between
    (``Pilot.press`` waits for the app to be idle after each key)."""
    from textual import events

    assert app._driver is not None
    for key in keys:
        event = events.Key(key, key)
        event.set_sender(app)
        app._driver.send_message(event)


def runs_of(app: AssetflowApp) -> list[dict[str, str]]:
    """The rows of the Runs table by column label, with Kind and Selection in either layout."""
    rows = cells_of(app, "#runs")
    for row in rows:
        if "Kind · selection" in row:
            row["Kind"], _, row["Selection"] = row["Kind · selection"].partition(" ")
    return rows
