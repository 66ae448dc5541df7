"""Rows of dicts -> an aligned table for people or JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value) or "-"
    return str(value).replace("\n", " ")


def duration(seconds: float | None) -> str:
    """``seconds`` as people read an uptime: 45s, 12m 05s, 3h 02m, 2d 04h."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


# Columns shown in a form of their own in tables (JSON keeps the raw value).
FORMATS = {"uptime": duration}


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """An aligned text table of ``rows``; ``columns`` picks and orders the keys."""
    if not rows:
        return "(none)"
    if columns is None:  # every key any row has, in first-seen order
        keys = dict.fromkeys(k for row in rows for k in row if not k.startswith("_"))
        columns = list(keys)
    cells = [[FORMATS.get(c, cell)(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def emit(
    rows: Sequence[dict[str, Any]],
    as_json: bool,
    columns: Sequence[str] | None = None,
    text: str | None = None,
) -> None:
    """Print ``rows`` as JSON (all keys except private ``_`` ones), else ``text`` when
    given, else a table of them."""
    if as_json:
        public = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
        typer.echo(json.dumps(public, indent=2, default=str))
    else:
        typer.echo(table(rows, columns) if text is None else text)
