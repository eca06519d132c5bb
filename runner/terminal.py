"""How the runner prints: the one owner of tables, paths and commands, on a terminal or not.

Lines are never wrapped by rich (the console soft-wraps: the terminal folds a long line, and a path or a
suggested command copied from it stays whole). Tables are shaped by `fit` just before they print:

- on a terminal a table fits the width; a column declared `no_wrap` (a job's name, its overrides, a
  trial's parameters, a path) never splits a word, and no other column shrinks below its header or
  `FLOOR` characters; only when that is wider than the terminal is the table drawn wider (the terminal
  folds its lines) rather than emptied;
- piped or redirected, a table prints box-less, as wide as its content, every column whole, one line per
  row (a multi-line cell's lines joined by '; '), so `grep`, `cut` and copy-paste see every column.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.progress_bar import ProgressBar
from rich.table import Table

console = Console(soft_wrap=True)
"""Standard output for everything the runner prints (`soft_wrap`: rich never breaks a line)."""

FLOOR = 12
"""On a terminal, a wrapping column keeps its longest word up to this many characters (and its header's)."""
_UNBOUNDED = 1_000_000


def _measure(target: Console, renderable) -> Measurement:
    """(longest word, widest line) of `renderable` unwrapped ((0, 0) for an empty cell)."""
    if renderable == "":
        return Measurement(0, 0)
    return Measurement.get(target, target.options.update_width(_UNBOUNDED), renderable)


def _width(target: Console, renderable) -> int:
    return _measure(target, renderable).maximum


def _header(text: str) -> int:
    return max((len(word) for word in str(text).split()), default=0)


def fit(table: Table, target: Console | None = None) -> Table:
    """Shape `table` for `target` (default: `console`; see the module docstring); returns it, changed in
    place."""
    target = target or console
    if not target.is_terminal:
        table.box, table.show_edge, table.pad_edge, table.show_lines = None, False, False, False
        for column in table.columns:
            column.no_wrap, column.overflow = True, "ignore"
            column._cells = [cell.replace("\n", "; ") if isinstance(cell, str) else cell for cell in column._cells]
        table.width = _width(target, table)
        return table
    return _share_width(table, target)


def _share_width(table: Table, target: Console) -> Table:
    """On a terminal: each column at least its floor (a `no_wrap` column its longest word: it may wrap
    between words, never inside one; others their header and FLOOR); the widest columns give up width
    first, so narrow ones stay whole. Wider than the terminal only when the floors are."""
    spans = []
    for column in table.columns:
        cells = [_measure(target, cell) for cell in [column.header, *column.cells]]
        word, widest = max(cell.minimum for cell in cells), max(cell.maximum for cell in cells)
        kept = column.no_wrap
        least = word if kept else max(_header(str(column.header)), min(word, FLOOR))
        spans.append((kept, least, max(least, widest)))
    room = target.width - table._extra_width - sum(table._get_padding_width(i) for i in range(len(table.columns)))
    if sum(widest for _, _, widest in spans) <= room:
        return table  # it fits as it is
    widths = [widest for _, _, widest in spans]
    excess = sum(widths) - room
    while excess > 0:  # narrow the widest column that is above its floor, one character at a time
        wide = max((i for i, (_, least, _) in enumerate(spans) if widths[i] > least), key=lambda i: widths[i],
                   default=None)
        if wide is None:  # even the floors do not fit: drawn wider, the terminal folds its lines
            table.width = target.width + excess
            break
        widths[wide], excess = widths[wide] - 1, excess - 1
    for column, width in zip(table.columns, widths, strict=True):
        column.width, column.no_wrap = width, False
    return table


def show(table: Table | None, target: Console | None = None) -> None:
    """Print `table` shaped by `fit` (nothing for None) on `target` (default: `console`)."""
    target = target or console
    if table is not None:
        target.print(fit(table, target), crop=False)


def say(line: str, target: Console | None = None) -> None:
    """Print one plain line as written on `target` (default: `console`): no markup, no highlighting, never
    broken by rich (paths and commands in it stay copyable)."""
    target = target or console
    target.print(line, highlight=False, markup=False, soft_wrap=True)


class Progress:
    """A progress cell: a bar on a terminal, `NN%` elsewhere (bars are box-drawing characters)."""

    def __init__(self, completed: int, total: int, width: int = 16) -> None:
        self.completed, self.total, self.width = min(completed, max(total, 1)), max(total, 1), width

    def __rich_console__(self, target: Console, options: ConsoleOptions) -> RenderResult:
        if target.is_terminal:
            yield ProgressBar(total=self.total, completed=self.completed, width=min(self.width, options.max_width))
        else:
            yield f"{100 * self.completed // self.total}%"

    def __rich_measure__(self, target: Console, options: ConsoleOptions) -> Measurement:
        width = self.width if target.is_terminal else len(f"{100 * self.completed // self.total}%")
        return Measurement(min(width, 4), width)
