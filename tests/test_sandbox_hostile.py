"""Hostile model code through the sandbox: contained, the caller alive, the pool still working."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from mathbench.core.sandbox.pool import SandboxPool
from tests.support.sandboxkit import children, descendants, gone, leftovers, still_works

SECRET = "sk-fake-MATHBENCH-TEST-0123456789"


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(size=2, mem_mb=1024, nproc=32, fsize_mb=16) as p:
        yield p


def test_infinite_loop_times_out(pool):
    r = pool.run("while True:\n    pass\n", timeout=1.5)
    assert r.status == "timeout" and r.returncode == -signal.SIGKILL
    still_works(pool)


def test_sleep_times_out_and_output_before_is_kept(pool):
    r = pool.run("print('before', flush=True)\nimport time\ntime.sleep(60)\n", timeout=1)
    assert r.status == "timeout" and r.stdout == "before\n"
    still_works(pool)


def test_8gb_allocation_is_refused(pool):
    r = pool.run("x = bytearray(8 * 1024**3)\nprint(len(x))", timeout=10)
    assert r.status in ("error", "killed") and "MemoryError" in r.stderr
    r = pool.run("import numpy as np\nx = np.ones(10**9)\nprint(x.sum())", timeout=10)
    assert r.status in ("error", "killed") and r.stdout == ""
    still_works(pool)


def test_fork_storm_is_contained(pool):
    r = pool.run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", timeout=2)
    assert r.status == "timeout"
    assert "BlockingIOError" not in r.stdout
    assert leftovers(pool) == []  # every forked process was killed
    still_works(pool)


def test_escaped_background_process_is_killed(pool):
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    time.sleep(300)\n"
        "else:\n    print('parent done')\n"
    )
    r = pool.run(code, timeout=5)
    assert r.status == "ok" and r.stdout == "parent done\n"
    assert leftovers(pool) == []


def test_100mb_output_is_truncated(pool):
    r = pool.run("import sys\nsys.stdout.write('x' * 100_000_000)\nprint('END')\n", timeout=30)
    assert r.status == "ok" and r.truncated
    assert r.stdout.startswith("xxxx") and r.stdout.endswith("xxxEND\n")
    assert len(r.stdout) < 70_000
    still_works(pool)


def test_huge_file_is_stopped_and_leaves_nothing(pool):
    code = "import os\nprint(os.getcwd(), flush=True)\nf = open('big-mb-test', 'wb')\nwhile True:\n    f.write(b'0' * 2**20)\n"
    r = pool.run(code, timeout=10)
    assert r.status in ("killed", "error")
    assert "file size" in r.stderr or "File too large" in r.stderr
    scratch = r.stdout.strip()
    assert scratch
    # A private scratch file system is gone with the block; a scratch folder on ours is removed.
    assert not os.path.exists(os.path.join(scratch, "big-mb-test"))
    later = pool.run(f"import os\nprint(os.path.exists({os.path.join(scratch, 'big-mb-test')!r}))", timeout=10)
    assert later.stdout == "False\n"
    still_works(pool)


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
    server = pool.server_pid
    for code in (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
        "import os, signal\nppid = int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "os.kill(ppid, signal.SIGKILL)\n",
        "import os, signal\nos.kill(-1, signal.SIGKILL)\nos.killpg(0, signal.SIGKILL)\n",
        f"import os, signal\nos.kill({server}, signal.SIGKILL)\nos.kill({os.getpid()}, signal.SIGKILL)\n",
    ):
        r = pool.run(code, timeout=5)
        assert r.status in ("ok", "error", "killed")
        assert pool.server_pid == server and not gone(server)
    still_works(pool)


def test_pool_recovers_when_its_processes_are_killed(tmp_path):
    # Even running as root (drop_to=None) a block cannot reach the server; killed from outside, it comes back.
    with SandboxPool(size=1, drop_to=None, scratch_root=str(tmp_path)) as p:
        server = p.server_pid
        r = p.run(f"import os, signal\nfor pid in ({server}, os.getppid()):\n    try:\n"
                  "        os.kill(pid, signal.SIGKILL)\n    except OSError as e:\n        print(type(e).__name__)\n",
                  timeout=5)
        assert r.status in ("ok", "error", "killed")
        assert p.server_pid == server and not gone(server)
        still_works(p)
        for victim in ("server", "zygote"):
            server = p.server_pid
            os.kill(server if victim == "server" else children(server)[0], signal.SIGKILL)
            still_works(p)
            assert p.server_pid != server
            deadline = time.monotonic() + 20
            while not gone(server) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert gone(server)
        # a server alive but unreachable (its socket removed) is replaced too, in both APIs
        for run in (p.run, lambda code, timeout: asyncio.run(p.arun(code, timeout))):
            server = p.server_pid
            os.unlink(p._socket)
            assert run("print(6 * 7)", timeout=10).stdout == "42\n"
            assert p.server_pid != server and gone(server)
    assert not any(tmp_path.iterdir())  # no scratch folder left behind


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
        while len(descendants(server)) < 3 and time.monotonic() < deadline:  # the zygote + 2 block processes
            time.sleep(0.05)
        workers = [server] + descendants(server)
        assert len(workers) >= 4
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while not all(gone(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [p for p in workers if not gone(p)] == []
        while os.path.exists(private_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(private_dir)  # the server removed its socket folder on the way out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_block_cannot_kill_a_concurrent_block(pool):
    # The victim notes when it ran; the attacker, started while it sleeps, signals every pid it can name.
    victim_code = "import time\nt0 = time.monotonic()\ntime.sleep(3)\nprint('alive', t0, time.monotonic())\n"
    attacker_code = (
        "import os, time, signal\n"
        "time.sleep(1.0)\nt = time.monotonic()\n"
        "hit = 0\n"
        "for pid in range(2, 1 << 16):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n        hit += 1\n    except OSError:\n        pass\n"
        "os.kill(-1, signal.SIGKILL)\n"
        "print('done', t, hit)\n"
    )
    out = {}
    victim = threading.Thread(target=lambda: out.setdefault("v", pool.run(victim_code, timeout=20)))
    victim.start()
    attacker = pool.run(attacker_code, timeout=20)
    victim.join()
    v = out["v"]
    assert v.status == "ok" and v.stdout.startswith("alive"), v.stderr
    _, v0, v1 = v.stdout.split()
    if attacker.stdout:  # it may have killed itself with kill(-1) first; then it ran inside the victim's window anyway
        _, t, _ = attacker.stdout.split()
        assert float(v0) < float(t) < float(v1)
    still_works(pool)
