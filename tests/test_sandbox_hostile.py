"""Hostile model code through the sandbox: contained, the caller alive, the pool still working."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from mathbench.core.sandbox.pool import SandboxPool

SECRET = "sk-fake-MATHBENCH-TEST-0123456789"


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(size=2, mem_mb=1024, nproc=32, fsize_mb=16) as p:
        yield p


def _still_works(pool: SandboxPool) -> None:
    r = pool.run("print(6 * 7)", timeout=10)
    assert (r.status, r.stdout) == ("ok", "42\n")


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                kids = [int(x) for x in open(f"/proc/{p}/task/{t}/children").read().split()]
            except OSError:
                kids = []
            out += kids
            todo += kids
    return out


def _runner_leftovers(pool: SandboxPool) -> list[int]:
    """Live processes below the supervisors (each supervisor kills its tree before it answers)."""
    sups = _descendants_direct(pool.server_pid)
    return [p for s in sups for p in _descendants(s) if not _gone(p)]


def _descendants_direct(pid: int) -> list[int]:
    try:
        return [int(x) for x in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def test_infinite_loop_times_out(pool):
    r = pool.run("while True:\n    pass\n", timeout=1.5)
    assert r.status == "timeout" and r.returncode == -signal.SIGKILL
    _still_works(pool)


def test_sleep_times_out_and_output_before_is_kept(pool):
    r = pool.run("print('before', flush=True)\nimport time\ntime.sleep(60)\n", timeout=1)
    assert r.status == "timeout" and r.stdout == "before\n"
    _still_works(pool)


def test_8gb_allocation_is_refused(pool):
    r = pool.run("x = bytearray(8 * 1024**3)\nprint(len(x))", timeout=10)
    assert r.status in ("error", "killed") and "MemoryError" in r.stderr
    r = pool.run("import numpy as np\nx = np.ones(10**9)\nprint(x.sum())", timeout=10)
    assert r.status in ("error", "killed") and r.stdout == ""
    _still_works(pool)


def test_fork_storm_is_contained(pool):
    r = pool.run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", timeout=2)
    assert r.status == "timeout"
    assert "BlockingIOError" not in r.stdout
    assert _runner_leftovers(pool) == []  # every forked process was killed
    _still_works(pool)


def test_escaped_background_process_is_killed(pool):
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    time.sleep(300)\n"
        "else:\n    print('parent done')\n"
    )
    r = pool.run(code, timeout=5)
    assert r.status == "ok" and r.stdout == "parent done\n"
    assert _runner_leftovers(pool) == []


def test_100mb_output_is_truncated(pool):
    r = pool.run("import sys\nsys.stdout.write('x' * 100_000_000)\nprint('END')\n", timeout=30)
    assert r.status == "ok" and r.truncated
    assert r.stdout.startswith("xxxx") and r.stdout.endswith("xxxEND\n")
    assert len(r.stdout) < 70_000
    _still_works(pool)


def test_huge_file_is_stopped_and_scratch_removed(pool):
    code = "import os\nprint(os.getcwd(), flush=True)\nf = open('big', 'wb')\nwhile True:\n    f.write(b'0' * 2**20)\n"
    r = pool.run(code, timeout=10)
    assert r.status in ("killed", "error")
    assert "file size" in r.stderr or "File too large" in r.stderr
    scratch = r.stdout.strip()
    assert scratch and not os.path.exists(scratch)
    _still_works(pool)


def test_no_secrets_in_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    # Other processes' environments are out of reach only under another uid, i.e. when the caller is root.
    scan = os.geteuid() == 0
    code = textwrap.dedent(
        f"""
        import os
        print(dict(os.environ))
        for pid in os.listdir('/proc') if {scan!r} else []:
            if pid.isdigit():
                try:
                    print(open(f'/proc/{{pid}}/environ', 'rb').read())
                except OSError:
                    pass
        """
    )
    with SandboxPool(size=1) as p:
        r = p.run(code, timeout=10)
    assert r.status == "ok", r.stderr
    assert SECRET not in r.stdout and SECRET not in r.stderr
    assert "OPENAI_API_KEY" not in r.stdout and "HF_TOKEN" not in r.stdout
    assert "PATH" in r.stdout


def test_killing_its_parents_does_not_hurt_the_caller(pool):
    r = pool.run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", timeout=5)
    assert r.status in ("error", "killed")
    grandparent = "int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])"
    r = pool.run(f"import os, signal\nos.kill({grandparent}, signal.SIGKILL)\n", timeout=5)
    assert r.status in ("error", "killed")
    r = pool.run("import os, signal\nos.kill(-1, signal.SIGKILL)\nos.killpg(0, signal.SIGKILL)\n", timeout=5)
    assert r.status in ("error", "killed")
    _still_works(pool)


def test_pool_recovers_when_its_processes_are_killed(tmp_path):
    # Without the uid drop the code can kill its supervisor and the server; the caller must survive.
    note = tmp_path / "supervisor.pid"
    with SandboxPool(size=1, drop_to=None, scratch_root=str(tmp_path)) as p:
        r = p.run(f"import os, signal\nopen({str(note)!r}, 'w').write(str(os.getppid()))\n"
                  "os.kill(os.getppid(), signal.SIGKILL)\n", timeout=5)
        assert r.status == "killed"
        _still_works(p)
        # the dead supervisor's scratch folder is removed by the server
        leftover = f"mb-sbx-{note.read_text()}-"
        deadline = time.monotonic() + 20
        while any(n.name.startswith(leftover) for n in tmp_path.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(n.name.startswith(leftover) for n in tmp_path.iterdir())
        server = p.server_pid
        os.kill(server, signal.SIGKILL)
        _still_works(p)
        assert p.server_pid != server
        # a server alive but unreachable (its socket removed) is replaced too, in both APIs
        for run in (p.run, lambda code, timeout: asyncio.run(p.arun(code, timeout))):
            server = p.server_pid
            os.unlink(p._socket)
            assert run("print(6 * 7)", timeout=10).stdout == "42\n"
            assert p.server_pid != server and _gone(server)


def test_workers_die_with_their_owner_on_kill_9(tmp_path):
    owner = textwrap.dedent(
        """
        import sys, threading
        from mathbench.core.sandbox.pool import SandboxPool
        pool = SandboxPool(size=2).start()
        for _ in range(2):
            threading.Thread(target=pool.run, args=("import time\\ntime.sleep(120)",), kwargs={"timeout": 120}).start()
        print(pool.server_pid, pool._dir, flush=True)
        threading.Event().wait()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", owner], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        server_s, private_dir = proc.stdout.readline().split()
        server = int(server_s)
        deadline = time.monotonic() + 30
        while len(_descendants(server)) < 4 and time.monotonic() < deadline:  # 2 supervisors + 2 runners
            time.sleep(0.05)
        workers = [server] + _descendants(server)
        assert len(workers) >= 5
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while not all(_gone(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [p for p in workers if not _gone(p)] == []
        while os.path.exists(private_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(private_dir)  # the server removed its socket folder on the way out
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(os.geteuid() != 0, reason="separate uids per block need root to switch to them")
def test_a_block_cannot_kill_a_concurrent_block(pool):
    import shutil
    import tempfile
    import threading

    shared = tempfile.mkdtemp(prefix="mb-test-victim-")
    os.chmod(shared, 0o777)
    try:
        victim_code = (
            "import os, time\n"
            f"p = os.path.join({shared!r}, 'pid')\n"
            "open(p + '.tmp', 'w').write(str(os.getpid()))\n"
            "os.chmod(p + '.tmp', 0o644)\n"
            "os.rename(p + '.tmp', p)\n"
            f"while not os.path.exists(os.path.join({shared!r}, 'done')):\n    time.sleep(0.02)\n"
            "print('alive')\n"
        )
        attacker_code = (
            "import os, time, signal\n"
            f"p = os.path.join({shared!r}, 'pid')\n"
            "while not os.path.exists(p):\n    time.sleep(0.02)\n"
            "pid = int(open(p).read())\n"
            "try:\n    os.kill(pid, signal.SIGKILL)\n    print('killed it')\n"
            "except PermissionError:\n    print('denied')\n"
            "os.kill(-1, signal.SIGKILL)\n"
            f"open(os.path.join({shared!r}, 'done'), 'w').close()\n"
        )
        out = {}
        victim = threading.Thread(target=lambda: out.setdefault("v", pool.run(victim_code, timeout=20)))
        victim.start()
        attacker = pool.run(attacker_code, timeout=20)
        victim.join()
        assert attacker.stdout.startswith("denied")
        assert out["v"].status == "ok" and out["v"].stdout == "alive\n"
    finally:
        shutil.rmtree(shared, ignore_errors=True)
