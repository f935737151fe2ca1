"""The protections the sandbox reports are the ones it enforces — with everything, with some refused, unprivileged —
and an eval still runs where some are missing, saying so in its manifest and at its start."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mathbench.core.sandbox import pool as pool_module
from mathbench.core.sandbox.pool import PROTECTIONS, SandboxPool
from mathbench.core.sandbox.protections import protections_line, sandbox_protections, verify_protections
from tests.support.sandboxkit import Listener, still_works

IPC_CREAT, IPC_RMID = 0o1000, 0
_libc = ctypes.CDLL(None, use_errno=True)


def enforced(pool: SandboxPool, repo_root: Path) -> dict[str, bool]:
    """Each protection tried from inside a block by what it should stop (not by the sandbox's own check)."""
    listener = Listener()
    marker = f"mathbench-test-{os.getpid()}-{time.time_ns()}"
    open(f"/tmp/{marker}", "w").close()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    key = 0x4D420000 + os.getpid() % 0xFFFF
    shm = _libc.shmget(key, 4096, IPC_CREAT | 0o666)
    code = f"""
import ctypes, os, socket
out = {{}}
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", {listener.port}))
    out["network"] = False
except OSError:
    out["network"] = True
try:
    open({str(repo_root / "README.md")!r}).read()
    out["filesystem"] = False
except OSError:
    out["filesystem"] = True
try:
    open("/tmp/{marker}-in", "w").close()
    open("/dev/shm/{marker}-in", "w").close()
    out["tmp"] = not os.path.exists("/tmp/{marker}")
except OSError:
    out["tmp"] = False
seen = False
for pid in (p for p in os.listdir("/proc") if p.isdigit()):
    try:
        seen = seen or {marker.encode()!r} in open(f"/proc/{{pid}}/cmdline", "rb").read()
    except OSError:
        pass
out["pid"] = not seen
out["ipc"] = ctypes.CDLL(None, use_errno=True).shmget({key}, 0, 0) == -1 and ctypes.get_errno() == 2
cgroups = open("/proc/self/cgroup").read()
def own(ctl):
    for line in cgroups.splitlines():
        _, ctls, path = line.split(":", 2)
        if ctl in ctls.split(",") or (not ctls and ctl == ""):
            return "mathbench-sbx-" in path
    return False
out["memory"] = own("memory") or own("")
out["processes"] = own("pids") or own("")
out["uid"] = os.getuid() not in (0, {os.getuid()})
out["no-new-privs"] = "NoNewPrivs:\\t1" in open("/proc/self/status").read()
print(__import__("json").dumps(out))
"""
    try:
        r = pool.run(code, timeout=30)
        assert r.status == "ok", r.stderr
        out = json.loads(r.stdout)
        out["tmp"] = out["tmp"] and not os.path.exists(f"/tmp/{marker}-in") and not os.path.exists(f"/dev/shm/{marker}-in")
        out["network"] = out["network"] and listener.accepted == 0
        return out
    finally:
        listener.close()
        sleeper.kill()
        sleeper.wait()
        _libc.shmctl(shm, IPC_RMID, None)
        for path in (f"/tmp/{marker}", f"/tmp/{marker}-in", f"/dev/shm/{marker}-in"):
            if os.path.exists(path):
                os.unlink(path)


@pytest.mark.parametrize("wanted", [None, ("tmp", "pid", "uid"), ("network", "filesystem", "memory"), ()],
                         ids=["all", "tmp-pid-uid", "network-filesystem-memory", "none"])
def test_reported_protections_are_the_enforced_ones(wanted, repo_root):
    # A protection left out stands for one the kernel refused: the report must say so, and the block is
    # then really without it (so these checks can fail).
    with SandboxPool(size=1, preload=(), protections=wanted) as p:
        report = sandbox_protections(p)
        got = enforced(p, repo_root)
        assert {name: name in report["active"] for name in PROTECTIONS} == got, (report, got)
        assert verify_protections(p) == got
        if wanted is not None:
            assert set(report["active"]) <= set(wanted)
            assert all(report["missing"][name] for name in PROTECTIONS if name not in report["active"])
        still_works(p)


def test_the_whole_set_is_active_on_these_machines():
    # The project's machines (root, namespaces, cgroups) allow every protection; elsewhere this says what is not.
    if os.geteuid() != 0:
        pytest.skip("not root")
    with SandboxPool(size=1, preload=()) as p:
        report = sandbox_protections(p)
    assert report["complete"], protections_line(report)


def _system_python() -> str | None:
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(cand):
            out = subprocess.run([cand, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                                 capture_output=True, text=True)
            if out.stdout.strip() == "True":
                return cand
    return None


def test_an_unprivileged_user_gets_what_the_kernel_allows_and_is_told(repo_root):
    python = _system_python()
    if os.geteuid() != 0 or python is None or shutil.which("setpriv") is None:
        pytest.skip("needs root (to become nobody), setpriv and a system Python >= 3.11")
    shim = tempfile.mkdtemp(prefix="mathbench-shim-")
    try:
        os.chmod(shim, 0o755)
        os.makedirs(os.path.join(shim, "mathbench"), mode=0o755)
        os.symlink(repo_root / "core", os.path.join(shim, "mathbench", "core"))
        listener = Listener()
        script = (
            "import json, socket\n"
            "from mathbench.core.sandbox.pool import SandboxPool\n"
            "from mathbench.core.sandbox.protections import sandbox_protections, verify_protections\n"
            "with SandboxPool(size=1, preload=()) as p:\n"
            "    rep = sandbox_protections(p)\n"
            "    ver = verify_protections(p)\n"
            f"    r = p.run('import socket\\ns = socket.socket()\\ns.settimeout(2)\\ns.connect((\"127.0.0.1\", {listener.port}))')\n"
            "print(json.dumps({'report': rep, 'verified': ver, 'connect': r.status}))\n"
        )
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", script],
                             env={"PATH": "/usr/bin:/bin", "PYTHONPATH": shim, "HOME": "/nonexistent"},
                             cwd="/", capture_output=True, text=True, timeout=120)
        listener.close()
        assert out.returncode == 0, out.stderr
        res = json.loads(out.stdout.strip().splitlines()[-1])
        report = res["report"]
        assert "uid" not in report["active"] and report["missing"]["uid"].startswith("not root")
        assert res["verified"] == {name: name in report["active"] for name in PROTECTIONS}
        assert (res["connect"] != "ok") == ("network" in report["active"])
        assert (listener.accepted == 0) == ("network" in report["active"])
        if report["user_namespace"] == "entered":
            assert {"network", "filesystem", "pid"} <= set(report["active"])
        else:
            assert report["missing"]["network"]  # refused, and said why
    finally:
        shutil.rmtree(shim, ignore_errors=True)


async def test_an_eval_runs_without_some_protections_and_records_which(tmp_path, monkeypatch):
    from mathbench.core.evaluation.runner import EvalConfig, RunStarted, run_eval
    from mathbench.core.evaluation.rundir import RunDir
    from tests.support.evalkit import gsm8k, server_for
    from mathbench.tui.cli.evaluation import sandbox_notes

    weak = SandboxPool(size=2, protections=("tmp",))
    monkeypatch.setattr(pool_module, "_default", weak)
    problems = gsm8k(4)
    events = []
    try:
        with server_for(problems) as srv:
            summary = await run_eval(EvalConfig(benchmark="gsm8k", limit=4, base_urls=[srv.base_url],
                                                model="demo-pot", run_dir=tmp_path / "run"), events.append)
    finally:
        weak.close()
    assert summary.complete and summary.correct == 4
    sandbox = RunDir(tmp_path / "run").manifest["sandbox"]
    assert sandbox["active"] == ["tmp"] and not sandbox["complete"]
    assert set(sandbox["missing"]) == set(PROTECTIONS) - {"tmp"}
    started = next(e for e in events if isinstance(e, RunStarted))
    notes = sandbox_notes(started.manifest["sandbox"], "sk-on-the-command-line")
    assert notes[0].startswith("sandbox: tmp; MISSING network, filesystem")
    assert "--api-key" in notes[1]
    assert sandbox_notes({"active": list(PROTECTIONS), "missing": {}, "complete": True}, "k") == [
        "sandbox: all protections active (" + ", ".join(PROTECTIONS) + ")"]
