"""Plain-text output of the CLI: AIS-style sizes and aligned tables."""

from __future__ import annotations

from collections.abc import Sequence

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: int) -> str:
    """``11B``, ``1.02KiB``, ``3.00MiB`` (as `ais` prints sizes)."""
    if n < 1024:
        return f"{n}B"
    value = float(n)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.2f}{unit}"
    return f"{n}B"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [header, *rows]
    for line in lines:
        cells = [c.ljust(widths[i]) for i, c in enumerate(line)]
        print("  ".join(cells).rstrip())
