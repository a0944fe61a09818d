"""Modal dialogs: confirm an action, the backfill form, and the help screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

# DEFAULT_CSS is scoped to the class that declares it: a bare ``ModalScreen`` rule became
# ``ConfirmDialog ModalScreen`` (a descendant, so nothing) and the dialogs sat top-left. Naming
# the dialog classes themselves matches the screen in each one's scope.
DIALOG_CSS = """
ConfirmDialog, BackfillDialog, HelpScreen { align: center middle; }
#dialog { width: 64; max-width: 100%; height: auto; border: thick $primary; background: $surface;
          padding: 1 2; }
#dialog Label { width: 100%; }
#dialog Input { margin: 0 0 1 0; }
#buttons { height: auto; align: right middle; margin-top: 1; }
#buttons Button { margin-left: 2; }
#form-error { color: $error; height: auto; }
#help { width: 72; max-width: 100%; height: 80%; border: thick $primary; background: $surface;
        padding: 0 1; }
"""


class ConfirmDialog(ModalScreen[bool]):
    """Ask before an action: ``y``/enter confirms, ``n``/esc cancels."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, confirm: str = "Start") -> None:
        super().__init__()
        self.question = question
        self.confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question, markup=False)
            with Horizontal(id="buttons"):
                yield Button("Cancel (n)", id="no")
                yield Button(f"{self.confirm} (y)", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class BackfillDialog(ModalScreen[tuple[str, str] | None]):
    """The backfill form: from and to keys, checked by ``validate`` before it closes.

    Both fields start empty, with the asset's first and last keys as placeholders: filled in,
    enter twice backfilled every partition (a year of daily ones) without a key being typed.
    """

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, asset: str, first: str, last: str, validate: Callable[[str, str], str | None]
    ) -> None:
        super().__init__()
        self.asset = asset
        self.first = first
        self.last = last
        self.validate = validate

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(
                f"Backfill {self.asset}: every partition in the range, in order.", markup=False
            )
            yield Label("From (inclusive)")
            yield Input(placeholder=f"e.g. {self.first} (the first partition)", id="from")
            yield Label("To (inclusive)")
            yield Input(placeholder=f"e.g. {self.last} (the last partition)", id="to")
            yield Static("", id="form-error", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Start backfill", id="start", variant="primary")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "from":
            self.query_one("#to", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        bounds = {"from": "", "to": ""}
        for field in bounds:
            bounds[field] = self.query_one(f"#{field}", Input).value.strip()
            if not bounds[field]:
                which, example = ("From", self.first) if field == "from" else ("To", self.last)
                self._refuse(f"{which} is empty: type a partition key (e.g. {example}).", field)
                return
        error = self.validate(bounds["from"], bounds["to"])
        if error:
            self._refuse(error)
            return
        self.dismiss((bounds["from"], bounds["to"]))

    def _refuse(self, message: str, field: str | None = None) -> None:
        """Keep the form open with ``message`` in it (and the cursor in the empty field)."""
        self.query_one("#form-error", Static).update(message)
        if field is not None:
            self.query_one(f"#{field}", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key binding of the screen below and of the app; esc, q or ? closes it."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def __init__(self, below: Screen[object]) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        from assetflow.tui.app import AssetflowApp

        lines = [f"{getattr(self.below, 'TITLE_TEXT', '') or 'assetflow'}: keys", ""]
        seen = set()
        for binding in [*_bindings(type(self.below)), *_bindings(AssetflowApp)]:
            if binding.action in seen or not binding.description:
                continue
            seen.add(binding.action)
            key = binding.key_display or binding.key.replace("question_mark", "?")
            lines.append(f"  {key:<12} {binding.description}")
        lines += ["", getattr(self.below, "HELP_TEXT", ""), "", "esc, q or ? closes this help."]
        with VerticalScroll(id="help"):
            yield Static("\n".join(lines), markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


def _bindings(owner: type) -> list[Binding]:
    found = []
    for item in getattr(owner, "BINDINGS", []):
        if isinstance(item, Binding):
            found.append(item)
    return found
