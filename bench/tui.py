"""Workbench speed, each beside a baseline measured in the same run; prints the ratios.

1. start-up to first paint (the compositor's first frame): `mathbench`'s app on the sample workspace vs a bare
   Textual app;
2. opening a 5,000-item run in the results browser (a second after start-up, and at once) vs reading the
   same JSONL with plain Python;
3. keypress to next item in adjudication vs appending+fsyncing one JSON line with plain Python
   (the least a saved verdict can cost) and vs a bare Textual key-to-repaint.

Run: .venv/bin/python bench/tui.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST_PAINT = r"""
import sys, time
t0 = float(sys.argv[1])
import textual.screen
frames = []
_refresh = textual.screen.Screen._compositor_refresh
def _timed_refresh(self):
    # The compositor writes a frame here: the first one is what the user first sees.
    _refresh(self)
    frames.append(time.time() - t0)
textual.screen.Screen._compositor_refresh = _timed_refresh
{setup}
async def auto_pilot(pilot):
    import asyncio
    painted = asyncio.Event()
    # Runs after the first refresh that follows the app's ready signal (the workbench paints before it).
    pilot.app.call_after_refresh(painted.set)
    await painted.wait()
    print("painted", frames[0], time.time() - t0, flush=True)
    pilot.app.exit()
app.run(headless=True, size=(160, 48), auto_pilot=auto_pilot)
"""

BARE_SETUP = """
from textual.app import App
from textual.widgets import Footer, Header, Static
class Bare(App):
    def compose(self):
        yield Header(); yield Static("bare"); yield Footer()
app = Bare()
"""

WORKBENCH_SETUP = """
from mathbench.core.workspace import open_workspace
from mathbench.tui.app import MathbenchApp
app = MathbenchApp(open_workspace(sys.argv[2]))
"""


def first_paint(setup: str, workspace: str) -> tuple[float, float]:
    """Seconds from launching a Python process to the app's first frame, and to its first refresh once ready."""
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", FIRST_PAINT.format(setup=setup), repr(t0), workspace],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith("painted"))
    return float(line.split()[1]), float(line.split()[2])


async def open_big_run(run_dir: Path, settle: float = 0.0) -> float:
    """Seconds from pressing 3 to the results table holding every row, *settle* seconds after start-up
    (the workbench reads the current run ahead and builds the results screen once the first frame is out)."""
    from mathbench.core.workspace import open_workspace
    from tests.support.tui_runs import wait_until
    from mathbench.tui.app import MathbenchApp

    app = MathbenchApp(open_workspace(run_dir.parent.parent), run_dir=run_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(settle or None)
        t0 = time.perf_counter()
        await pilot.press("3")
        screen = app.screen
        await wait_until(pilot, lambda: screen.snapshot is not None and len(screen.shown) == 5000, step=0.005)
        await pilot.pause()
        return time.perf_counter() - t0


def plain_read(run_dir: Path) -> float:
    t0 = time.perf_counter()
    with open(run_dir / "results.jsonl", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    assert len(records) == 5000
    return time.perf_counter() - t0


async def adjudication_keypresses(run_dir: Path, n: int) -> list[float]:
    """Seconds from each y press to the next item being shown (its verdict fsynced first)."""
    from mathbench.core.workspace import open_workspace
    from tests.support.tui_runs import wait_until
    from mathbench.tui.app import MathbenchApp

    app = MathbenchApp(open_workspace(run_dir.parent.parent), start="adjudicate", run_dir=run_dir)
    times = []
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.state is not None)
        for _ in range(n):
            before = screen.state.reviewed
            t0 = time.perf_counter()
            await pilot.press("y")
            await wait_until(pilot, lambda: screen.state.reviewed == before + 1, step=0.001)
            await pilot.pause()
            times.append(time.perf_counter() - t0)
    return times


def plain_fsync_appends(path: Path, n: int) -> list[float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": f"p-{i}", "verdict": "correct", "time": time.time()}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        times.append(time.perf_counter() - t0)
    return times


async def bare_keypresses(n: int) -> list[float]:
    from textual.app import App
    from textual.widgets import Static

    class Bare(App):
        BINDINGS = [("y", "bump", "bump")]
        count = 0

        def compose(self):
            yield Static("0")

        def action_bump(self):
            self.count += 1
            self.query_one(Static).update(str(self.count))

    app = Bare()
    times = []
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(n):
            t0 = time.perf_counter()
            await pilot.press("y")
            await pilot.pause()
            times.append(time.perf_counter() - t0)
    return times


def ms(seconds: float) -> str:
    return f"{1000 * seconds:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="start-ups per app (median reported)")
    parser.add_argument("--presses", type=int, default=30, help="adjudication key presses")
    args = parser.parse_args()

    from mathbench.core.workspace import open_workspace
    from tests.support.tui_runs import make_run

    tmp = Path(tempfile.mkdtemp(prefix="mathbench-bench-"))
    sample_ws = str(open_workspace(tmp / "sample").root)
    big_ws = open_workspace(tmp / "big", sample=False)
    big_run = make_run(big_ws.runs_dir / "big", 5000)

    print(f"mathbench TUI bench (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    # Each measure alternates with its baseline, so that a change in the machine's load touches both alike.
    starts = [(first_paint(BARE_SETUP, sample_ws), first_paint(WORKBENCH_SETUP, sample_ws)) for _ in range(args.repeat)]
    pairs = [(bare[0], ours[0]) for bare, ours in starts]
    bare, ours = (statistics.median(times) for times in zip(*pairs))
    worst = max(o / b for b, o in pairs)
    ready_bare, ready_ours = (statistics.median(run[1] for run in side) for side in zip(*starts))
    print(f"start-up to first paint   workbench {ms(ours)}   bare Textual app {ms(bare)}   ratio {ours / bare:.2f}x"
          f"   (worst of {args.repeat} pairs {worst:.2f}x; first refresh once ready: {ms(ready_ours).strip()} vs "
          f"{ms(ready_bare).strip()}, {ready_ours / ready_bare:.2f}x)")

    runs = [(plain_read(big_run), asyncio.run(open_big_run(big_run, settle=1.0)), asyncio.run(open_big_run(big_run)))
            for _ in range(3)]
    plain, opened, cold = (statistics.median(times) for times in zip(*runs))
    print(f"open a 5,000-item run     results screen {ms(opened)}   plain json.loads {ms(plain)}   "
          f"ratio {opened / plain:.1f}x   (pressed at once after start-up: {ms(cold)}, {cold / plain:.1f}x)")

    keys = statistics.median(asyncio.run(adjudication_keypresses(big_run, args.presses)))
    fsyncs = statistics.median(plain_fsync_appends(tmp / "plain.jsonl", args.presses))
    bare_keys = statistics.median(asyncio.run(bare_keypresses(args.presses)))
    print(f"adjudication key to next  workbench {ms(keys)}   plain append+fsync {ms(fsyncs)}   "
          f"bare Textual key {ms(bare_keys)}   ratio {keys / (fsyncs + bare_keys):.2f}x of the two together")
    return 0


if __name__ == "__main__":
    sys.exit(main())
