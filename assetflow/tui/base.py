"""What every data screen shares: a title bar, a status line, and loads in a worker thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

if TYPE_CHECKING:
    from assetflow.tui.app import AssetflowApp


class DataScreen(Screen[None]):
    """A screen whose data is read by :meth:`load` in a thread and shown by :meth:`show`.

    Reads never run on the UI thread, so the UI stays responsive while the state file is
    busy; one load at a time per screen (a refresh tick during a load is skipped).
    """

    TITLE_TEXT = ""

    def __init__(self) -> None:
        super().__init__()
        self._loading = False

    @property
    def af(self) -> AssetflowApp:
        from assetflow.tui.app import AssetflowApp

        assert isinstance(self.app, AssetflowApp)
        return self.app

    def compose_top(self) -> ComposeResult:
        yield Static(self.title_text(), id="title", markup=False)
        yield Static("loading…", id="status", markup=False)

    def compose_bottom(self) -> ComposeResult:
        yield Footer()

    def title_text(self) -> str:
        return f"assetflow · {self.af.project.name} · {self.TITLE_TEXT}"

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Read this screen's data again, in a worker thread."""
        if self._loading:
            return
        self._loading = True
        self.run_worker(self._fetch, thread=True, group="load", exit_on_error=False)

    def _fetch(self) -> None:
        try:
            data = self.load()
        except Exception as exc:  # a busy or unreadable state file: say so, keep going
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._loaded, data)

    def _loaded(self, data: Any) -> None:
        self._loading = False
        self.show(data)

    def _failed(self, exc: Exception) -> None:
        self._loading = False
        self.set_status(f"cannot read the state: {exc}", error=True)

    def set_status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(text)
        status.set_class(error, "error")

    def load(self) -> Any:
        """Read the data (runs in a worker thread; no widget access)."""
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Render the data (runs on the UI thread)."""
        raise NotImplementedError
