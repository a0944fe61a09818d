"""What steps print is echoed to the terminal a whole line at a time: two steps printing at
once never splice their lines together (print() writes its pieces one by one)."""

from __future__ import annotations

import io
import logging
import sys
import threading

import pytest

from assetflow.runner.output import capturing_output, routed_output


def test_concurrent_steps_echo_whole_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stderr", terminal)
    turns = threading.Barrier(2)

    def step(name: str) -> None:
        handler = logging.Handler()
        handler.handle = lambda record: True  # type: ignore[method-assign]
        with capturing_output(handler, f"assetflow.asset.{name}"):
            sys.stdout.write("asset output on stdout")
            turns.wait()  # both steps are mid-line now
            sys.stdout.write(f" {name}\n")
            turns.wait()
            sys.stdout.write(f"unfinished {name}")  # no newline: echoed when the step ends

    with routed_output():
        threads = [threading.Thread(target=step, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = terminal.getvalue().splitlines()
    assert sorted(lines) == [
        "asset output on stdout a",
        "asset output on stdout b",
        "unfinished a",
        "unfinished b",
    ]
