"""The Assets screen: every asset, worst first, with counts, freshness and a live summary."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input

from assetflow.errors import AssetflowError
from assetflow.tui.base import DataScreen
from assetflow.tui.theme import styled
from assetflow.views.assets import AssetRow, AssetsView, load_assets
from assetflow.views.format import ago, duration

COLUMNS = (
    ("Asset", 22),
    ("State", 8),
    ("Fresh", 5),
    ("Stale", 5),
    ("Miss", 5),
    ("Fail", 4),
    ("Last", 8),
    ("Took", 6),
    ("Freshness", 13),
    ("Schedule", 12),
)


class AssetsScreen(DataScreen):
    TITLE_TEXT = "Assets"
    HELP_TEXT = (
        "Assets are sorted by what needs attention: failed, overdue, running, stale, missing, "
        "fresh. The filter takes the selection syntax (+orders, orders+, tag:domain=sales, "
        "group:finance, several terms) or part of a name. 'Took' is the median duration of "
        "the recent successes."
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

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        table: DataTable[str | Text] = DataTable(cursor_type="row", id="assets")
        for label, width in COLUMNS:
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
        now = self.af.now()
        table = self.query_one("#assets", DataTable)
        cells = {row.name: _cells(row, now) for row in data.rows}
        order = list(cells)
        if order == self._order:
            # A refresh that changes no order updates only the cells that changed: rebuilding
            # the table re-renders every row, which stalls the UI with hundreds of assets.
            for name, new in cells.items():
                for (label, _), before, after in zip(COLUMNS, self._shown[name], new, strict=True):
                    if _signature(before) != _signature(after):
                        table.update_cell(name, label, after)
        else:
            selected = self.selected_asset()
            table.clear()
            for name, row_cells in cells.items():
                table.add_row(*row_cells, key=name)
            if selected is not None and selected in cells:
                table.move_cursor(row=table.get_row_index(selected))
        self._order, self._shown = order, cells
        status = data.summary.text()
        if data.filter:
            status += f"  │  filter: {data.filter}"
        if data.error:
            self.set_status(f"filter {data.filter!r}: {data.error}", error=True)
        else:
            self.set_status(status)

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


def _cells(row: AssetRow, now: object) -> list[str | Text]:
    from datetime import datetime

    assert isinstance(now, datetime)
    counts = row.counts
    worst = row.worst

    def count(state: str) -> Text:
        n = counts.get(state, 0)
        return Text(
            str(n), style="" if not n or state == "fresh" else _style(state), justify="right"
        )

    fresh = Text(str(counts.get("fresh", 0)), justify="right")
    freshness = styled(row.freshness, "overdue") if row.overdue else Text(row.freshness or "-")
    return [
        styled(row.name, worst),
        styled(worst, worst),
        fresh,
        count("stale"),
        count("missing"),
        count("failed"),
        Text(ago(now, row.last_materialized_at).replace(" ago", "")),
        Text(duration(row.typical_duration_s), justify="right"),
        freshness,
        Text(row.schedule or "-"),
    ]


def _signature(cell: str | Text) -> object:
    """What a cell shows (``Text.__eq__`` ignores the base style and justification)."""
    if isinstance(cell, str):
        return cell
    return (cell.plain, str(cell.style), cell.justify, tuple(cell.spans))


def _style(state: str) -> str:
    from assetflow.tui.theme import STYLES

    return STYLES.get(state, "")
