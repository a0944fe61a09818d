"""A real HTTP server on 127.0.0.1 for the alert tests: scripted answers, captured requests.

``server.script("/slack", 429, 200)`` makes the next POSTs to ``/slack`` answer 429, then 200
(the last answer repeats); an answer may be ``(status, {"Retry-After": "0"})``. Every request's
path, headers and JSON body lands in ``server.requests``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = int | tuple[int, dict[str, str]]


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class AlertServer:
    host: str
    port: int
    requests: list[Captured] = field(default_factory=list)
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def script(self, path: str, *answers: Answer) -> None:
        with self.lock:
            self.scripts[path] = list(answers)

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [r.body for r in self.requests if r.path == path]

    def answer(self, captured: Captured) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.requests.append(captured)
            answers = self.scripts.get(captured.path, [200])
            chosen = answers.pop(0) if len(answers) > 1 else answers[0]
        return chosen if isinstance(chosen, tuple) else (chosen, {})


def serve() -> Iterator[AlertServer]:
    """Start a server in a thread; yields it; shuts it down afterwards."""
    state: AlertServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            status, headers = state.answer(Captured(self.path, dict(self.headers), body))
            payload = b"ok"
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = AlertServer("127.0.0.1", server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port bound then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/dead"
