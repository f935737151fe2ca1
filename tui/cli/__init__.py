"""The `mathbench` command line: one sub-module per command group, each calling `core`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes register(subparsers); they import only argparse at module level
# so that `mathbench --help` stays fast.
COMMAND_MODULES = (
    "mathbench.tui.cli.grade",      # grade
    "mathbench.tui.cli.evaluation",  # eval, demo-server
    "mathbench.tui.cli.report",     # report, runs
    "mathbench.tui.cli.data",       # data validate|dedupe|export|stats
    "mathbench.tui.cli.synth",      # synth
    "mathbench.tui.cli.jobs",       # train, serve, jobs, gpu
    "mathbench.tui.cli.doctor",     # doctor
    "mathbench.tui.cli.app",        # (no command): open the TUI; adjudicate
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command group that is installed."""
    from mathbench.core import __version__

    parser = argparse.ArgumentParser(
        prog="mathbench",
        description="Terminal workbench for Program-of-Thought math LLMs. "
        "With no command, opens the workbench on the workspace.",
    )
    parser.add_argument("--version", action="version", version=f"mathbench {__version__}")
    parser.add_argument(
        "--workspace", "-w", default=None,
        help="workspace folder (default: the current directory; a folder with no workspace gets the sample one)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mathbench` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from mathbench.core.workspace import WorkspaceError

    func = getattr(args, "func", None)
    try:
        if func is None:
            from mathbench.tui.cli.app import open_workbench

            return open_workbench(args) or 0
        rc = func(args) or 0
        sys.stdout.flush()  # a reader that left early shows up here, not at interpreter exit
        return rc
    except WorkspaceError as exc:
        print(f"mathbench: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`mathbench jobs | head`): stop quietly, as a Unix tool killed by SIGPIPE does.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13


if __name__ == "__main__":
    sys.exit(main())
