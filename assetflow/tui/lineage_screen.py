"""The Lineage screen: what the asset reads (upstream) and what reads it (downstream)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from assetflow.tui.base import DataScreen
from assetflow.tui.theme import STYLES
from assetflow.views.format import GLYPHS
from assetflow.views.lineage import LineageNode, LineageView, load_lineage


def _label(node: LineageNode) -> Text:
    glyph = GLYPHS.get(node.state, "!" if node.state == "overdue" else "?")
    text = Text(f"{glyph} ", style=STYLES.get(node.state, ""))
    text.append(node.asset, style="bold" if not node.repeated else "")
    text.append(f"  {node.state}", style=STYLES.get(node.state, ""))
    if node.repeated:
        text.append("  (shown above)", style="dim")
    return text


class LineageScreen(DataScreen):
    TITLE_TEXT = "Lineage"
    HELP_TEXT = (
        "Upstream: what the asset reads, recursively; downstream: what reads it. An asset "
        "met twice is shown once in full. enter re-centres the tree on the asset under the "
        "cursor; p opens its partitions."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("p", "partitions", "Partitions"),
    ]

    def __init__(self, asset: str) -> None:
        super().__init__()
        self.asset = asset

    def title_text(self) -> str:
        return f"{super().title_text()} · {self.asset}"

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        tree: Tree[str] = Tree(self.asset, id="lineage")
        tree.show_root = True
        yield tree
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(Tree).focus()

    def load(self) -> LineageView:
        return load_lineage(self.af.project, self.asset, self.af.now())

    def show(self, data: LineageView) -> None:
        tree = self.query_one("#lineage", Tree)
        cursor = tree.cursor_line
        tree.clear()
        tree.root.set_label(_label(data.root))
        tree.root.data = data.root.asset
        for title, nodes in (("▲ upstream", data.upstream), ("▼ downstream", data.downstream)):
            branch = tree.root.add(Text(f"{title} ({_count(nodes)})", style="bold"), expand=True)
            _add(branch, nodes)
        tree.root.expand_all()
        tree.move_cursor_to_line(max(0, cursor))
        self.set_status(
            f"{data.root.asset}: {_count(data.upstream)} upstream, "
            f"{_count(data.downstream)} downstream"
        )

    def _selected(self) -> str | None:
        node = self.query_one("#lineage", Tree).cursor_node
        return self.asset if node is None or node.data is None else node.data

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        name = event.node.data
        if name and name != self.asset:
            self.asset = name
            self.query_one("#lineage", Tree).move_cursor_to_line(0)
            self.query_one("#title").update(self.title_text())  # type: ignore[attr-defined]
            self.reload(changed=True)  # a refresh still reading the old asset is dropped

    def action_partitions(self) -> None:
        from assetflow.tui.partitions_screen import PartitionsScreen

        name = self._selected()
        if name:
            self.app.push_screen(PartitionsScreen(name))


def _add(parent: TreeNode[str], nodes: list[LineageNode]) -> None:
    for node in nodes:
        if node.children:
            child = parent.add(_label(node), data=node.asset, expand=True)
            _add(child, node.children)
        else:
            parent.add_leaf(_label(node), data=node.asset)


def _count(nodes: list[LineageNode]) -> int:
    seen: set[str] = set()

    def walk(items: list[LineageNode]) -> None:
        for item in items:
            seen.add(item.asset)
            walk(item.children)

    walk(nodes)
    return len(seen)
