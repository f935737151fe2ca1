"""What protects a code block on this machine: one report for the eval's manifest, its start line and `mathbench doctor`."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile

from mathbench.core.sandbox.pool import PROTECTIONS, SandboxError, SandboxPool, default_pool

DESCRIPTIONS = {
    "network": "no network (a network namespace of its own)",
    "filesystem": "read-only view without the project, home and workspace",
    "tmp": "private /tmp and /dev/shm, gone with the block",
    "pid": "own PID namespace: sees only its processes, none outlives it",
    "ipc": "own IPC namespace",
    "memory": "one memory limit for all its processes (cgroup)",
    "processes": "one process cap for all its processes (cgroup)",
    "uid": "an unprivileged uid of its own",
    "no-new-privs": "setuid programs cannot raise its privileges",
}
ALWAYS = "always: CPU, memory, file-size and open-file limits; wall clock; clean env"


def sandbox_protections(pool: SandboxPool | None = None) -> dict:
    """What protects each block of *pool* (default: the pool behind run_python, started if need be).

    {"active": [...], "missing": {name: reason}, "complete": bool, "cgroup", "user_namespace", "memory_mb",
    "nproc"}; a sandbox that cannot start gives no active protection and an "error".
    """
    try:
        report = (pool or default_pool()).start().protections or {}
    except SandboxError as exc:
        return {"active": [], "missing": {p: "the sandbox did not start" for p in PROTECTIONS},
                "complete": False, "error": str(exc)}
    active = [p for p in PROTECTIONS if p in report.get("active", ())]
    refused = report.get("refused") or {}
    missing = {p: str(refused.get(p, "not reported")) for p in PROTECTIONS if p not in active}
    return {"active": active, "missing": missing, "complete": not missing, "cgroup": report.get("cgroup"),
            "user_namespace": report.get("user_namespace"), "memory_mb": report.get("memory_mb"),
            "nproc": report.get("nproc")}


async def sandbox_protections_async(run_code=None) -> dict:
    """sandbox_protections() for the eval runner, off the event loop; a *run_code* other than the sandbox's
    own is described as such (it protects nothing this module knows of)."""
    from mathbench.core.sandbox.pool import run_python, run_python_async

    if run_code is not None and run_code not in (run_python, run_python_async):
        name = getattr(run_code, "__qualname__", None) or type(run_code).__name__
        return {"active": [], "missing": {}, "complete": False, "custom": str(name)}
    return await asyncio.to_thread(sandbox_protections)


def protections_line(report: dict) -> str:
    """One line for the start of an eval: which protections hold, and what is missing and why."""
    if report.get("custom"):
        return f"sandbox: code runs through {report['custom']} (not the sandbox)"
    if report.get("error"):
        return f"sandbox: NOT STARTED ({report['error']})"
    active = ", ".join(report.get("active") or []) or "none"
    missing = report.get("missing") or {}
    if not missing:
        return f"sandbox: all protections active ({active})"
    gaps = "; ".join(f"{name}: {why}" for name, why in missing.items())
    return f"sandbox: {active}; MISSING {', '.join(missing)} ({gaps})"


_CHECK = r"""
import json, os, socket
out = {}
def ns(kind):
    try:
        return os.readlink(f"/proc/self/ns/{kind}")
    except OSError:
        return None
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", PORT))
    out["network"] = False
except OSError:
    out["network"] = True
out["network"] = out["network"] and ns("net") != CALLER["net"]
out["filesystem"] = not os.path.exists(PROJECT) and not os.path.exists(MARKER_DIR)
probe = f"/tmp/mathbench-verify-{os.getpid()}-{os.urandom(4).hex()}"
try:
    open(probe, "w").close()
    os.unlink(probe)
    out["tmp"] = not os.path.exists(MARKER) and ns("mnt") != CALLER["mnt"]
except OSError:
    out["tmp"] = False
procs = [p for p in os.listdir("/proc") if p.isdigit()]
out["pid"] = ns("pid") != CALLER["pid"] and os.getpid() == 1 and not os.path.exists(f"/proc/{CALLER_PID}/environ")
out["ipc"] = ns("ipc") != CALLER["ipc"]
groups = {}
for line in open("/proc/self/cgroup").read().splitlines():
    _, ctl, path = line.split(":", 2)
    for c in (ctl.split(",") if ctl else [""]):
        groups[c] = path
def own_group(ctl):
    path = groups.get(ctl) or groups.get("")
    return path is not None and "mathbench-sbx-" in path
out["memory"] = own_group("memory")
out["processes"] = own_group("pids")
out["uid"] = os.getuid() not in (0, CALLER_UID)
status = open("/proc/self/status").read()
out["no-new-privs"] = "NoNewPrivs:\t1" in status
print(json.dumps(out))
"""


def verify_protections(pool: SandboxPool | None = None) -> dict[str, bool]:
    """Run one block that checks each protection from the inside; True where it holds."""
    pool = pool or default_pool()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    marker_dir = tempfile.mkdtemp(prefix="mathbench-verify-")
    marker = os.path.join(marker_dir, "visible")
    open(marker, "w").close()
    os.chmod(marker_dir, 0o755)
    try:
        caller = {k: os.readlink(f"/proc/self/ns/{k}") for k in ("net", "mnt", "pid", "ipc")}
        project = os.path.abspath(__file__)
        code = (_CHECK.replace("PORT", str(listener.getsockname()[1])).replace("CALLER_PID", str(os.getpid()))
                .replace("CALLER_UID", str(os.getuid())).replace("CALLER", repr(caller))
                .replace("PROJECT", repr(project)).replace("MARKER_DIR", repr(marker_dir))
                .replace("MARKER", repr(marker)))
        r = pool.run(code, timeout=20)
        if r.status != "ok":
            return {p: False for p in PROTECTIONS}
        return {p: bool(v) for p, v in json.loads(r.stdout).items()}
    finally:
        listener.close()
        os.unlink(marker)
        os.rmdir(marker_dir)
