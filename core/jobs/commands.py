"""The `mathbench` command lines that detached eval and synthesis jobs run, built from option values."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def cli_options(options: Mapping[str, Any]) -> list[str]:
    """Long options from {name: value}: `top_p=0.9` → `--top-p 0.9`; True is a bare flag, a list repeats the flag,
    None, "" and False are left out (the command's default applies)."""
    argv: list[str] = []
    for name, value in options.items():
        if value is None or value == "" or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                argv += [flag, str(item)]
        else:
            argv += [flag, str(value)]
    return argv


def mathbench_command(workspace_root: Path | str, command: str, **options: Any) -> list[str]:
    """`python -m mathbench.tui --workspace ROOT COMMAND --json OPTIONS…` with this interpreter."""
    return [sys.executable, "-m", "mathbench.tui", "--workspace", str(workspace_root), command, "--json",
            *cli_options(options)]


def eval_command(workspace_root: Path | str, run_dir: Path | str, **options: Any) -> list[str]:
    """The `mathbench eval` a detached eval job runs; *options* are its long options (`base_url=[…]`,
    `max_rounds=4`, `retry_errors=True`, …)."""
    return mathbench_command(workspace_root, "eval", run_dir=str(run_dir), **options)


def synth_command(workspace_root: Path | str, out: Path | str, **options: Any) -> list[str]:
    """The `mathbench synth` a detached synthesis job runs (`pairs=`, `topic=[…]`, `base_url=`, `model=`, …)."""
    return mathbench_command(workspace_root, "synth", out=str(out), **options)
