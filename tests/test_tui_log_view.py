"""The log view: read by a worker as the file grows, only visible rows drawn, wrap or sideways scroll,
search with n/N, follow with f, a filter that hides the rest."""

from __future__ import annotations

from textual.app import App

from mathbench.tui.widgets.log_view import LogLines, LogView
from tests.support.tui_runs import wait_until

LONG = "x" * 300


class OneLog(App):
    def compose(self):
        yield LogView(id="log")


def _write(path, start: int, count: int) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        for i in range(start, start + count):
            fh.write(f"line {i} {'ERROR disk full' if i % 100 == 7 else 'ok'} {LONG if i % 50 == 0 else ''}\n")


async def test_a_growing_file_is_followed_searched_and_wrapped(tmp_path):
    path = tmp_path / "job.log"
    _write(path, 0, 2000)
    app = OneLog()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(LogView)
        lines = view.query_one(LogLines)
        view.follow(path)
        await wait_until(pilot, lambda: len(view.lines) == 500)  # the tail first
        await pilot.pause()
        assert lines.following and int(lines.scroll_offset.y) == lines.max_scroll_y > 0  # at the end
        _write(path, 2000, 10)
        await wait_until(pilot, lambda: view.lines[-1].startswith("line 2009"))  # read by the worker, no timer

        drawn: list[int] = []
        original = lines.render_line
        lines.render_line = lambda y: (drawn.append(y), original(y))[1]
        lines.refresh()
        await pilot.pause()
        assert 0 < len(set(drawn)) <= lines.size.height  # only the visible rows

        lines.focus()
        await pilot.press("home")  # to the top: no longer following
        assert not lines.following
        await pilot.press("slash", *"ERROR", "enter")
        await pilot.pause()
        assert lines.search == "ERROR"
        first = lines.match_line
        assert first == 7 and "ERROR" in lines.shown_lines[first]  # the first match from the top
        await pilot.press("n")
        assert lines.match_line == 107 and "ERROR" in lines.shown_lines[107]
        await pilot.press("N", "N")
        assert lines.match_line == 507  # back past the first: around to the last
        await pilot.press("escape")  # forgets the search
        assert lines.search == "" and lines.match_line is None

        rows_before = lines.virtual_size.height
        assert lines.virtual_size.width > 300  # long lines scroll sideways
        await pilot.press("w")
        await pilot.pause()
        assert lines.wrap and lines.virtual_size.height > rows_before
        await pilot.press("f")
        assert lines.following

        view.query_one(".log-filter").value = "ERROR"
        await pilot.pause()
        assert view.shown and all("ERROR" in line for line in view.shown)
        assert len(view.lines) == 510  # the filter hides, it does not drop


class BareLines(App):
    def compose(self):
        yield LogLines(id="lines")


async def test_a_followed_log_stays_at_its_end_when_a_long_line_brings_the_sideways_bar():
    app = BareLines()
    async with app.run_test(size=(60, 12)) as pilot:
        lines = app.query_one(LogLines)
        lines.add_lines([f"short {i}" for i in range(30)])
        await pilot.pause()
        assert not lines.show_horizontal_scrollbar and int(lines.scroll_offset.y) == lines.max_scroll_y
        lines.add_lines(["long " + LONG])  # the sideways bar takes a row: the end moves down once more
        await wait_until(pilot, lambda: lines.show_horizontal_scrollbar)
        await pilot.pause()
        await pilot.pause()
        assert lines.following and int(lines.scroll_offset.y) == lines.max_scroll_y
