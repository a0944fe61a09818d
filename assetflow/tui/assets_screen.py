"""The Assets screen: every asset, worst first, with counts, freshness and a live summary."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input

from assetflow.errors import AssetflowError
from assetflow.tui.base import DataScreen
from assetflow.tui.columns import Columns, cells, columns_for
from assetflow.views.assets import AssetsView, load_assets


class AssetsScreen(DataScreen):
    TITLE_TEXT = "Assets"
    HELP_TEXT = (
        "Assets are sorted by what needs attention: failed, overdue, running, stale, missing, "
        "fresh. The filter takes the selection syntax (+orders, orders+, tag:domain=sales, "
        "group:finance, several terms) or part of a name; it keeps the keyboard until enter "
        "applies it or esc closes it. 'Took' is the median duration of "
        "the recent successes. Under 110 columns the counts share one Partitions column "
        "(13█ fresh, 1▒ stale, 1░ missing, 1✗ failed, 1▸ running) and Took is left out."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,p", "partitions", "Partitions", key_display="⏎"),
        Binding("l", "lineage", "Lineage"),
        Binding("m", "materialize", "Materialize"),
        Binding("b", "backfill", "Backfill"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.view: AssetsView | None = None
        self._order: list[str] = []  # the rows shown, and their cells (to update only changes)
        self._shown: dict[str, list[str | Text]] = {}
        self._columns: Columns = ()

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        table: DataTable[str | Text] = DataTable(cursor_type="row", id="assets")
        self._columns = columns_for(self.app.size.width)
        for label, width in self._columns:
            table.add_column(label, width=width, key=label)
        yield table
        yield Input(
            placeholder="filter: selection or part of a name (enter applies)",
            id="filter",
            select_on_focus=False,  # focus given back after a tab or click keeps the text typed
        )
        yield from self.compose_bottom()

    def load(self) -> AssetsView:
        return load_assets(self.af.project, self.af.now(), self.filter_text)

    def show(self, data: AssetsView) -> None:
        self.view = data
        self._fill(data, self.selected_asset())

    def _fill(self, data: AssetsView, selected: str | None) -> None:
        now = self.af.now()
        table = self.query_one("#assets", DataTable)
        labels = [label for label, _ in self._columns]
        rows = {row.name: cells(row, now) for row in data.rows}
        shown = {name: [every[label] for label in labels] for name, every in rows.items()}
        order = list(shown)
        if order == self._order:
            # A refresh that changes no order updates only the cells that changed: rebuilding
            # the table re-renders every row, which stalls the UI with hundreds of assets.
            for name, new in shown.items():
                for label, before, after in zip(labels, self._shown[name], new, strict=True):
                    if _signature(before) != _signature(after):
                        table.update_cell(name, label, after)
        else:
            table.clear()
            for name, row_cells in shown.items():
                table.add_row(*row_cells, key=name)
            if selected is not None and selected in shown:
                table.move_cursor(row=table.get_row_index(selected))
        self._order, self._shown = order, shown
        status = data.summary.text()
        if data.filter:
            status += f"  │  filter: {data.filter}"
        if data.error:
            self.set_status(f"filter {data.filter!r}: {data.error}", error=True)
        else:
            self.set_status(status)

    def on_resize(self, event: events.Resize) -> None:
        columns = columns_for(event.size.width)
        if columns == self._columns:
            return
        # Columns that no longer fit would scroll off to the right: lay the table out again.
        table = self.query_one("#assets", DataTable)
        selected = self.selected_asset()
        table.clear(columns=True)
        self._columns = columns
        for label, width in columns:
            table.add_column(label, width=width, key=label)
        self._order, self._shown = [], {}
        if self.view is not None:
            self._fill(self.view, selected)

    def selected_asset(self) -> str | None:
        table = self.query_one("#assets", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return None if key.value is None else str(key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_partitions()

    # -- actions ---------------------------------------------------------------------------------

    def action_partitions(self) -> None:
        from assetflow.tui.partitions_screen import PartitionsScreen

        name = self.selected_asset()
        if name is not None:
            self.app.push_screen(PartitionsScreen(name))

    def action_lineage(self) -> None:
        from assetflow.tui.lineage_screen import LineageScreen

        name = self.selected_asset()
        if name is not None:
            self.app.push_screen(LineageScreen(name))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.value = self.filter_text
        box.select_all()  # typing replaces the filter applied, as before
        box.focus()

    def on_input_blurred(self, event: Input.Blurred) -> None:
        # The filter keeps the keyboard until enter or esc, like the / prompt of less or vim:
        # after a tab or a click on the table, the next letters typed ("monthly") would
        # otherwise run the screen's one-letter actions (m materializes, l opens the lineage).
        box = event.input
        if box.id == "filter" and box.has_class("shown") and self.is_current and self.app.app_focus:
            box.focus()

    def on_key(self, event: events.Key) -> None:
        # A key typed before the focus is back (a fast typist, a busy machine) reaches the
        # screen before any binding does: it goes into the filter too.
        box = self.query_one("#filter", Input)
        if box.has_class("shown") and self.focused is not box and event.is_printable:
            event.stop()
            event.prevent_default()
            box.insert_text_at_cursor(event.character or "")
            box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value.strip()
        event.input.remove_class("shown")
        self.query_one("#assets", DataTable).focus()
        self.reload(changed=True)  # a refresh still reading the old filter is dropped

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("shown"):
            box.remove_class("shown")
            self.query_one("#assets", DataTable).focus()
        elif self.filter_text:
            self.filter_text = ""
            self.reload(changed=True)

    def action_materialize(self) -> None:
        from assetflow.tui.dialogs import ConfirmDialog

        name = self.selected_asset()
        if name is None:
            return
        question = (
            f"Materialize {name}: every partition of it that is not fresh "
            "(and what it needs upstream)?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.af.start_action(["materialize", name], f"materialize {name}")

        self.app.push_screen(ConfirmDialog(question), answered)

    def action_backfill(self) -> None:
        from assetflow.tui.dialogs import BackfillDialog

        name = self.selected_asset()
        if name is None:
            return
        project = self.af.project
        keys = project.asset(name).partitions.keys(self.af.now())
        if project.asset(name).partitions.kind == "none" or not keys:
            self.notify(
                f"{name} has no partitions to backfill; use m to materialize", severity="warning"
            )
            return

        def validate(first: str, last: str) -> str | None:
            try:
                project.partition_keys(name, first=first, last=last, now=self.af.now())
            except AssetflowError as exc:
                return str(exc)
            return None

        def answered(bounds: tuple[str, str] | None) -> None:
            if bounds is not None:
                first, last = bounds
                self.af.start_action(
                    ["backfill", name, "--from", first, "--to", last],
                    f"backfill {name} {first}..{last}",
                )

        self.app.push_screen(BackfillDialog(name, keys[0], keys[-1], validate), answered)


def _signature(cell: str | Text) -> object:
    """What a cell shows (``Text.__eq__`` ignores the base style and justification)."""
    if isinstance(cell, str):
        return cell
    return (cell.plain, str(cell.style), cell.justify, tuple(cell.spans))
