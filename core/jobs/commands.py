"""The command lines of the jobs that run mathbench itself (eval, synth), built once for the TUI and the CLI."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SYNTH_PATH_OPTIONS = ("pairs", "dedupe_against", "fewshot")
"""`mathbench synth` options naming files: relative ones are taken in the workspace."""


def mathbench_argv(workspace_root: Path | str, *args: str) -> list[str]:
    """`mathbench --workspace ROOT ARGS...` run by this interpreter (a job outlives the workbench)."""
    return [sys.executable, "-m", "mathbench.tui", "--workspace", str(workspace_root), *args]


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


def eval_command(workspace_root: Path | str, run_dir: Path | str, **options: Any) -> list[str]:
    """The `mathbench eval` a detached eval job runs; *options* are its long options (`base_url=[…]`,
    `max_rounds=4`, `retry_errors=True`, …)."""
    return mathbench_argv(workspace_root, "eval", "--run-dir", str(run_dir), "--json", *cli_options(options))


def synth_command(workspace_root: Path | str, out: Path | str, **options: Any) -> list[str]:
    """The `mathbench synth` a detached synthesis job runs (`pairs=`, `topic=[…]`, `base_url=`, `model=`, …);
    relative paths of the output and of the files it reads are taken in the workspace."""
    root = Path(workspace_root)

    def in_workspace(text: str | Path) -> str:
        path = Path(text).expanduser()
        return str(path if path.is_absolute() else root / path)

    options = {k: (in_workspace(v) if k in SYNTH_PATH_OPTIONS and v else v) for k, v in options.items()}
    return mathbench_argv(root, "synth", "--out", in_workspace(out), "--json", *cli_options(options))
