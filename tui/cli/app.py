"""`mathbench` with no command opens the workbench; `mathbench adjudicate RUN_DIR` opens it on a run."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `adjudicate` and `tui` commands."""
    p = subparsers.add_parser(
        "adjudicate",
        help="open the adjudication screen on a run directory",
        description="Settle the grader's uncertain verdicts of RUN_DIR by keyboard; every verdict is "
        "appended to RUN_DIR/adjudications.jsonl and fsynced at once.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (holds manifest.json, results.jsonl), or its name "
                   "in <workspace>/runs")
    p.set_defaults(func=adjudicate)
    from mathbench.tui.registry import SCREENS

    p = subparsers.add_parser("tui", help="open the workbench (the same as no command)")
    p.add_argument("--screen", default="home", choices=[spec.name for spec in SCREENS], help="screen to open first")
    p.set_defaults(func=open_workbench)


def _workspace_path(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "workspace", None) or os.getcwd())


def open_workbench(args: argparse.Namespace) -> int:
    """Open the workbench on `args.workspace` (or the current directory), creating a sample one if absent."""
    from mathbench.core.workspace import open_workspace
    from mathbench.tui.app import MathbenchApp

    workspace = open_workspace(_workspace_path(args))
    MathbenchApp(workspace, start=getattr(args, "screen", None) or "home").run()
    return 0


def adjudicate(args: argparse.Namespace) -> int:
    """Open the adjudication screen on `args.run_dir`."""
    from mathbench.core.evaluation.rundir import find_run

    found = find_run(args.run_dir, getattr(args, "workspace", None))
    if found is None:
        print(f"mathbench adjudicate: {args.run_dir}: not a run directory (no manifest.json or results.jsonl)",
              file=sys.stderr)
        return 2
    run_dir = found.resolve()
    from mathbench.core.workspace import Workspace, is_workspace, open_workspace
    from mathbench.tui.app import MathbenchApp

    if getattr(args, "workspace", None):
        workspace = open_workspace(args.workspace)
    else:
        # The run's own workspace when it sits in one; never create a sample workspace around a bare run.
        parent = run_dir.parent.parent
        workspace = Workspace(parent) if is_workspace(parent) else Workspace(run_dir.parent)
    MathbenchApp(workspace, start="adjudicate", run_dir=run_dir).run()
    return 0
