"""The Runs screen (live and past runs with progress) and one run's steps and failures."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from assetflow.tui.base import DataScreen
from assetflow.tui.columns import RUNS, STEPS, Columns, bar_width
from assetflow.tui.theme import styled
from assetflow.views.format import ago, duration, progress_bar
from assetflow.views.runs import (
    RunDetail,
    RunRow,
    RunsView,
    Step,
    load_run,
    load_runs,
    load_step_logs,
    step_text,
)


def _progress(row: RunRow, bar: int = 10) -> Text:
    text = Text(progress_bar(row.done, row.total, bar), style="cyan" if row.live else "")
    failed = row.counts.get("failed", 0)
    text.append(f" {row.done}/{row.total}")
    if failed:
        text.append(f" {failed}✗", style="bold red")
    return text


def _confirm_rerun(screen: DataScreen, row: RunRow | None) -> None:
    from assetflow.tui.dialogs import ConfirmDialog

    if row is None:
        return
    failed = row.counts.get("failed", 0)
    if not failed:
        screen.notify(f"run {row.run_id} has no failed step", severity="warning")
        return
    question = f"Re-run the {failed} failed step{'s' if failed > 1 else ''} of run {row.run_id}?"

    def answered(yes: bool | None) -> None:
        if yes:
            screen.af.start_action(["run", "rerun", row.run_id], f"re-run of {row.run_id}")

    screen.app.push_screen(ConfirmDialog(question), answered)


class RunsScreen(DataScreen):
    TITLE_TEXT = "Runs"
    HELP_TEXT = (
        "Newest first. A live run's bar counts the steps done of its plan. Under 124 columns "
        "the kind shares a column with the selection, and Started (the run ID is its start "
        "time) and Took are left out."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("r", "rerun", "Re-run failed"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: RunsView | None = None
        self._columns: Columns = ()

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        table: DataTable[str | Text] = DataTable(cursor_type="row", id="runs")
        self._columns = RUNS.columns_for(self.app.size.width)
        for label, width in self._columns:
            table.add_column(label, width=width, key=label)
        yield table
        yield from self.compose_bottom()

    def load(self) -> RunsView:
        return load_runs(self.af.project)

    def show(self, data: RunsView) -> None:
        self.view = data
        self._fill(data, self.selected_run())

    def _fill(self, data: RunsView, selected: RunRow | None) -> None:
        now = self.af.now()
        table = self.query_one("#runs", DataTable)
        widths = dict(self._columns)
        bar = bar_width(widths["Progress"])
        table.clear()
        for row in data.rows:
            every: dict[str, str | Text] = {
                "Run": row.run_id,
                "Kind": row.kind,
                "Status": styled(row.status, row.status),
                "Progress": _progress(row, bar),
                "Started": ago(now, row.started_at).replace(" ago", ""),
                "Took": Text(duration(row.took_s(now)), justify="right"),
                "Selection": row.selection,
                "Kind · selection": f"{row.kind} {row.selection}",
            }
            table.add_row(*(every[label] for label in widths), key=row.run_id)
        if selected is not None and any(r.run_id == selected.run_id for r in data.rows):
            table.move_cursor(row=table.get_row_index(selected.run_id))
        self.set_status(f"{len(data.rows)} recent runs  │  {data.live} in progress")

    def on_resize(self, event: events.Resize) -> None:
        columns = RUNS.columns_for(event.size.width)
        if columns == self._columns:
            return
        # Columns that no longer fit would scroll off to the right: lay the table out again.
        table = self.query_one("#runs", DataTable)
        selected = self.selected_run()
        table.clear(columns=True)
        self._columns = columns
        for label, width in columns:
            table.add_column(label, width=width, key=label)
        if self.view is not None:
            self._fill(self.view, selected)

    def selected_run(self) -> RunRow | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count or self.view is None:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((row for row in self.view.rows if row.run_id == key), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        row = self.selected_run()
        if row is not None:
            self.app.push_screen(RunScreen(row.run_id))

    def action_rerun(self) -> None:
        _confirm_rerun(self, self.selected_run())


class RunScreen(DataScreen):
    """One run: its steps (failed first to catch the eye) and the selected step's detail."""

    TITLE_TEXT = "Run"
    HELP_TEXT = "Move through the steps; the pane below shows attempts, traceback and logs."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "rerun", "Re-run failed"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.detail: RunDetail | None = None
        self._columns: Columns = ()

    def title_text(self) -> str:
        return f"{super().title_text()} {self.run_id}"

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        table: DataTable[str | Text] = DataTable(cursor_type="row", id="steps")
        self._columns = STEPS.columns_for(self.app.size.width)
        for label, width in self._columns:
            table.add_column(label, width=width, key=label)
        yield table
        with VerticalScroll(id="step-box"):
            yield Static("", id="step", markup=False)
        yield from self.compose_bottom()

    def load(self) -> RunDetail:
        return load_run(self.af.project, self.run_id)

    def show(self, data: RunDetail, selected: Step | None = None) -> None:
        first_load = self.detail is None
        selected = selected or self.selected_step()
        self.detail = data
        now = self.af.now()
        run = data.run
        table = self.query_one("#steps", DataTable)
        table.clear()
        for i, step in enumerate(data.steps):
            table.add_row(
                styled(step.label, step.status),
                styled(step.status, step.status),
                Text(str(step.tries), justify="right"),
                Text(duration(step.duration_s), justify="right"),
                step.note,
                key=str(i),
            )
        labels = [s.label for s in data.steps]
        if selected is not None and selected.label in labels:
            table.move_cursor(row=labels.index(selected.label))
        elif first_load and data.failed:
            table.move_cursor(row=data.steps.index(data.failed[0]))
        counts = " · ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
        where = f"  │  {data.executor}" if data.executor else ""
        self.set_status(
            f"{run.kind} {run.selection}  │  {run.status}  │  {counts or 'no steps yet'}"
            f"  │  took {duration(run.took_s(now))}{where}"
        )
        self._show_step()

    def on_resize(self, event: events.Resize) -> None:
        columns = STEPS.columns_for(event.size.width)
        if columns == self._columns:
            return
        # The Note column takes the width there is: wider, it scrolled off to the right.
        table = self.query_one("#steps", DataTable)
        selected = self.selected_step()
        table.clear(columns=True)
        self._columns = columns
        for label, width in columns:
            table.add_column(label, width=width, key=label)
        if self.detail is not None:
            self.show(self.detail, selected)

    def selected_step(self) -> Step | None:
        table = self.query_one("#steps", DataTable)
        if not table.row_count or self.detail is None:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.detail.steps[int(key)] if key is not None else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_step()

    def _show_step(self) -> None:
        step = self.selected_step()
        if step is None:
            return

        def fetch() -> None:
            try:
                logs = load_step_logs(self.af.project, self.run_id, step)
            except Exception as exc:
                logs = [f"cannot read the logs: {exc}"]
            self.app.call_from_thread(self._show_text, step, logs)

        self.run_worker(fetch, thread=True, group="step", exit_on_error=False)

    def _show_text(self, step: Step, logs: list[str]) -> None:
        current = self.selected_step()
        if current is None or current.label != step.label:
            return
        lines = step_text(step, logs)
        text = Text("\n".join(lines))
        text.stylize("bold", 0, len(step.label))
        if "traceback:" in lines:
            at = text.plain.index("traceback:")
            end = text.plain.find("\nlogs:", at)
            text.stylize("red", at, end if end >= 0 else None)
        self.query_one("#step", Static).update(text)

    def action_rerun(self) -> None:
        _confirm_rerun(self, self.detail.run if self.detail else None)
