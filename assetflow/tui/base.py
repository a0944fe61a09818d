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
        # Bumped when the screen starts showing something else (a lineage re-centred on
        # another asset): a read still running then is for the old subject, and is dropped.
        self._generation = 0

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

    def reload(self, changed: bool = False) -> None:
        """Read this screen's data again, in a worker thread; ``changed`` when what the screen
        shows changed, so that a read already running (of the old subject) is not shown."""
        if changed:
            self._generation += 1
        if self._loading:
            return  # a changed subject is read again when the running read ends
        self._loading = True
        generation = self._generation
        self.run_worker(
            lambda: self._fetch(generation), thread=True, group="load", exit_on_error=False
        )

    def _fetch(self, generation: int) -> None:
        try:
            data = self.load()
        except Exception as exc:  # a busy or unreadable state file: say so, keep going
            self.app.call_from_thread(self._failed, exc, generation)
            return
        self.app.call_from_thread(self._loaded, data, generation)

    def _loaded(self, data: Any, generation: int) -> None:
        self._loading = False
        if generation != self._generation:
            self.reload()  # read for the old subject: read what is shown now instead
            return
        self.show(data)

    def _failed(self, exc: Exception, generation: int) -> None:
        self._loading = False
        if generation != self._generation:
            self.reload()
            return
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
