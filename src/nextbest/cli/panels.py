"""Terminal layout shared by the command line's views (rich): titled panels side by side and
plain tables of figures."""

from __future__ import annotations

import os
import sys

from rich.console import Console, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 160
"""The width of what goes to a file or a pipe (a terminal gives its own)."""


def output() -> Console:
    """A console for standard output: the terminal's width (or ``$COLUMNS``), else
    ``PIPE_WIDTH`` for a pipe."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=PIPE_WIDTH)


def pair(left: RenderableType, right: RenderableType, *, ratios: tuple[int, int] = (1, 1)
         ) -> Table:
    """Two renderables side by side, sharing the width by ``ratios``."""
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(ratio=ratios[0])
    grid.add_column(ratio=ratios[1])
    grid.add_row(left, right)
    return grid


def table(*columns: str) -> Table:
    """A table without lines: the first column left, the others right (figures)."""
    grid = Table(box=None, expand=True, pad_edge=False, header_style="dim")
    for n, name in enumerate(columns):
        grid.add_column(name, justify="left" if n == 0 else "right", no_wrap=True,
                        overflow="ellipsis")
    return grid


def titled(title: str, content: RenderableType) -> Panel:
    return Panel(content, title=title, title_align="left")


def listing(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]], empty: str
            ) -> Panel:
    """A titled table of rows, or ``empty`` (dimmed) when there are none."""
    grid = table(*columns)
    for row in rows:
        grid.add_row(*row)
    return titled(title, grid if rows else Text(empty, style="dim"))
