"""The command lines of the jobs that run mathbench itself (eval, synth), built once for the TUI and the CLI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable


def mathbench_argv(workspace_root: Path | str, *args: str) -> list[str]:
    """`mathbench --workspace ROOT ARGS...` run by this interpreter (a job outlives the workbench)."""
    return [sys.executable, "-m", "mathbench.tui", "--workspace", str(workspace_root), *args]


def eval_command(workspace_root: Path, *, benchmark: str | None, endpoints: list[str], model: str | None,
                 concurrency: int | None, limit: int | None, prompt: str | None, run_dir: Path,
                 retry_errors: bool = False) -> list[str]:
    """The `mathbench eval` command line a detached job runs."""
    argv = mathbench_argv(workspace_root, "eval", "--run-dir", str(run_dir), "--json")
    if benchmark:
        argv += ["--benchmark", benchmark]
    for url in endpoints:
        argv += ["--base-url", url]
    if model:
        argv += ["--model", model]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if limit:
        argv += ["--limit", str(limit)]
    if prompt:
        argv += ["--prompt", prompt]
    if retry_errors:
        argv.append("--retry-errors")
    return argv


def synth_command(workspace_root: Path, *, base_url: str, model: str, out: Path | str, pairs: str | None = None,
                  topics: Iterable[str] = (), limit: str | int | None = None, count: str | int | None = None,
                  concurrency: str | int | None = None, dedupe_against: str | None = None) -> list[str]:
    """The `mathbench synth` command line a detached job runs (relative paths are taken in the workspace)."""
    root = Path(workspace_root)

    def in_workspace(text: str | Path) -> str:
        path = Path(text).expanduser()
        return str(path if path.is_absolute() else root / path)

    argv = mathbench_argv(root, "synth", "--base-url", base_url, "--model", model, "--out", in_workspace(out), "--json")
    if pairs:
        argv += ["--pairs", in_workspace(pairs)]
    for topic in (t.strip() for t in topics):
        if topic:
            argv += ["--topic", topic]
    for flag, value in (("limit", limit), ("count", count), ("concurrency", concurrency)):
        if value:
            argv += [f"--{flag}", str(value)]
    if dedupe_against:
        argv += ["--dedupe-against", in_workspace(dedupe_against)]
    return argv
