"""Save SVG screenshots of the workbench's screens, rendered from the sample workspace, into docs/screenshots/.

Run: .venv/bin/python scripts/screenshots.py [--out DIR] [--size 160x48]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def shoot(out: Path, size: tuple[int, int]) -> list[Path]:
    """Drive the app over the sample workspace and save one SVG per view."""
    from mathbench.core.workspace import open_workspace
    from tests.support.tui_runs import screen_text, wait_until
    from mathbench.tui.app import MathbenchApp

    workspace = open_workspace(Path(tempfile.mkdtemp(prefix="mathbench-shots-")) / "workspace")
    app = MathbenchApp(workspace)
    app.sub_title = "sample workspace"  # not the temporary path, so the pictures only change when the UI does
    saved: list[Path] = []
    suffix = "" if size == (160, 48) else f"-{size[0]}x{size[1]}"

    def save(name: str) -> None:
        path = out / f"{name}{suffix}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
        saved.append(path)

    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: "demo-pot-v2" in screen_text(app))
        save("home")
        await pilot.press("2")
        await wait_until(pilot, lambda: app.screen.live is not None and app.screen.live["done"] > 0)
        app.screen.query_one("#eval-name").value = "my-eval"
        app.screen.query_one("#eval-model").value = "qwen2.5-math-pot"
        await pilot.pause(0.3)
        save("eval")
        await pilot.press("3")
        await wait_until(pilot, lambda: app.screen.snapshot is not None)
        await pilot.pause()
        save("results")
        await pilot.press("slash", *"gsm-15", "enter", "enter")
        await pilot.pause(0.3)
        save("item")
        await pilot.press("escape", "x")
        await pilot.press("4")
        await wait_until(pilot, lambda: app.screen.state is not None)
        await pilot.pause(0.3)
        save("adjudicate")
        await pilot.press("5")
        await wait_until(pilot, lambda: app.screen.summary is not None)
        await pilot.pause(1.0)
        save("report")
        await pilot.press("v")
        await pilot.pause(1.0)
        save("report-compare")
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        save("help")
        await pilot.press("escape")
        for key, name, shown in (("6", "data", "of 31"), ("9", "train", "120/120"), ("0", "serve", "ready"),
                                 ("j", "jobs", "Jobs"), ("g", "gpu", "GPU")):
            await pilot.press(key)
            await wait_until(pilot, lambda shown=shown: shown in screen_text(app))
            await pilot.pause(1.0)
            save(name)
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="folder for the SVG files")
    parser.add_argument("--size", default="160x48", help="terminal size, COLSxROWS")
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(out, (cols, rows))):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
