"""Plain text of what a Static widget shows, for assertions on rich renderables."""

from __future__ import annotations

import io

from rich.console import Console


def shown_text(widget, width: int = 160) -> str:
    """Render *widget*'s content (markup, Text, Table, Group …) to plain text."""
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def poll_until_done(start_worker, tries: int = 20) -> None:
    """Start an exclusive polling worker and wait for one run of it to finish (a timer may cancel a run)."""
    from textual.worker import WorkerCancelled

    for _ in range(tries):
        try:
            await start_worker().wait()
            return
        except WorkerCancelled:
            continue
    raise AssertionError("the worker never completed a run")
