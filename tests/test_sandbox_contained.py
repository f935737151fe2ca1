"""Hostile model code is contained, not just limited: no network, no view of the project, home, workspace or other
processes, nothing left behind, one memory limit per block; the pool alive after each case."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from mathbench.core.sandbox.pool import SandboxPool
from tests.support.sandboxkit import Listener, active, gone, leftovers, still_works


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(size=2) as p:
        yield p


@pytest.fixture()
def outside(tmp_path):
    """A folder outside /tmp (so a private /tmp alone would not hide it), removed afterwards."""
    path = tempfile.mkdtemp(prefix="mathbench-test-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run_beside(pool, code, neighbour="import time\ntime.sleep(2)\nprint('neighbour ok')\n", timeout=30):
    """Run *code* while an innocent block runs beside it; returns (result, neighbour's result)."""
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("n", pool.run(neighbour, timeout=timeout)))
    t.start()
    time.sleep(0.2)
    r = pool.run(code, timeout=timeout)
    t.join()
    return r, box["n"]


def test_no_network_to_loopback_or_outside(pool):
    if "network" not in active(pool):
        pytest.skip("no network namespace on this machine")
    listener = Listener()
    try:
        code = (
            "import socket\n"
            f"for host, port in (('127.0.0.1', {listener.port}), ('localhost', {listener.port}), "
            "('1.1.1.1', 443), ('8.8.8.8', 53)):\n"
            "    s = socket.socket()\n    s.settimeout(2)\n"
            "    try:\n        s.connect((host, port))\n        print('CONNECTED', host)\n"
            "    except OSError as e:\n        print('blocked', host, type(e).__name__)\n"
            "print([name for _, name in socket.if_nameindex()])\n"
        )
        r = pool.run(code, timeout=30)
        assert r.status == "ok", r.stderr
        assert "CONNECTED" not in r.stdout and r.stdout.count("blocked") == 4
        assert r.stdout.rstrip().endswith("['lo']")
        assert listener.accepted == 0
    finally:
        listener.close()
    still_works(pool)


def test_cannot_read_benchmark_project_home_or_workspace(pool, outside, repo_root):
    if "filesystem" not in active(pool):
        pytest.skip("no filesystem view on this machine")
    bench = os.path.join(outside, "benchmarks", "gold.jsonl")
    os.makedirs(os.path.dirname(bench))
    with open(bench, "w") as fh:
        fh.write('{"question": "1+1", "answer": "#### 2"}\n')
    home_file = os.path.join(os.path.expanduser("~"), f".mathbench-test-{os.getpid()}")
    with open(home_file, "w") as fh:
        fh.write("private")
    try:
        targets = [bench, outside, str(repo_root / "core" / "sandbox" / "pool.py"), str(repo_root / "README.md"),
                   str(repo_root / "data" / "sample_workspace" / "benchmarks" / "sample.jsonl"), home_file,
                   str(repo_root.parent / "shared" / "data")]
        code = (
            "import os\n"
            f"for path in {targets!r}:\n"
            "    if not os.path.lexists(path):\n        print('absent')\n        continue\n"
            "    try:\n"
            "        print('LISTED', path, os.listdir(path)) if os.path.isdir(path) else "
            "print('READ', path, len(open(path).read()))\n"
            "    except OSError as e:\n        print('refused', path, type(e).__name__)\n"
            f"print(sorted(os.listdir({os.path.expanduser('~')!r})) if os.path.isdir({os.path.expanduser('~')!r}) "
            "else 'no home')\n"
            "try:\n    open('/etc/mathbench-test', 'w')\n    print('WROTE /etc')\nexcept OSError:\n    print('ro')\n"
        )
        r = pool.run(code, timeout=20)
        assert r.status == "ok", r.stderr
        lines = r.stdout.splitlines()
        assert lines[: len(targets)] == ["absent"] * len(targets), r.stdout
        # Only the interpreter's own folders may show in home (e.g. ~/.pyenv), never the user's files.
        assert os.path.basename(home_file) not in lines[-2]
        assert lines[-1] == "ro"
    finally:
        os.unlink(home_file)
    still_works(pool)


def test_cannot_read_the_eval_process_command_line_or_environment(pool):
    secret = f"sk-mathbench-test-{os.getpid()}-cmdline"
    eval_like = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "--api-key", secret],
                                 env=dict(os.environ, OPENAI_API_KEY=secret))
    try:
        code = (
            "import os\nfound = []\nseen = 0\n"
            f"for pid in [{eval_like.pid}, {os.getpid()}] + [p for p in os.listdir('/proc') if p.isdigit()]:\n"
            "    for what in ('cmdline', 'environ'):\n"
            "        try:\n            data = open(f'/proc/{pid}/{what}', 'rb').read()\n            seen += 1\n"
            "        except OSError:\n            continue\n"
            f"        if {secret.encode()!r} in data:\n            found.append((pid, what))\n"
            "print('found', found, 'read', seen)\n"
        )
        r = pool.run(code, timeout=20)
        assert r.status == "ok", r.stderr
        assert secret not in r.stdout + r.stderr
        assert "found []" in r.stdout
    finally:
        eval_like.kill()
        eval_like.wait()
    still_works(pool)


def test_writes_to_tmp_and_dev_shm_leave_nothing_behind(pool):
    if "tmp" not in active(pool):
        pytest.skip("no private /tmp on this machine")
    marker = f"mathbench-test-{os.getpid()}-{time.time_ns()}"
    shm_before = shutil.disk_usage("/dev/shm").used
    code = (
        "import os\n"
        f"open('/tmp/{marker}', 'w').write('x')\n"
        "for i in range(6):  # 300 MB in files under the per-file size limit\n"
        f"    with open(f'/dev/shm/{marker}-{{i}}', 'wb') as f:\n"
        "        for _ in range(50):\n            f.write(b'0' * 2**20)\n"
        f"print(sum(os.path.getsize(f'/dev/shm/{marker}-{{i}}') for i in range(6)))\n"
    )
    r = pool.run(code, timeout=30)
    assert r.status == "ok", r.stderr
    assert r.stdout.strip() == str(300 * 2**20)
    assert not os.path.exists(f"/tmp/{marker}") and not os.path.exists(f"/dev/shm/{marker}-0")
    later = pool.run(f"import os\nprint(os.path.exists('/tmp/{marker}'), os.path.exists('/dev/shm/{marker}-0'))")
    assert later.stdout == "False False\n"
    # The 300 MB lived in the block's own RAM-backed file system and went with it.
    assert shutil.disk_usage("/dev/shm").used - shm_before < 100 * 2**20
    still_works(pool)


def test_five_children_of_1_5_gb_share_one_memory_limit(pool):
    if "memory" not in active(pool):
        pytest.skip("no memory cgroup on this machine")
    code = (
        "import os\nkids = []\n"
        "for _ in range(5):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n            block = b'\\x01' * (1536 * 2**20)\n            import time\n            time.sleep(3)\n"
        "            os._exit(0)\n        except MemoryError:\n            os._exit(3)\n"
        "    kids.append(pid)\n"
        "ok = sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in kids)\n"
        "print('held 1.5 GB at once:', ok)\n"
    )
    r = pool.run(code, timeout=60)
    # Either the parent survives and sees at most one child hold its 1.5 GB, or the limit killed it too.
    if r.stdout:
        assert int(r.stdout.split(":")[1]) <= 1, r.stdout
    else:
        assert r.status == "killed", r.stderr
    assert "memory limit of the block exceeded" in r.stderr, r.stderr
    still_works(pool)


def test_fork_bomb_hits_the_blocks_process_cap(pool):
    code = (
        "import os, time\nn = 0\n"
        "while True:\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n"
        "    n += 1\n"
        "print('forked', n)\n"
    )
    r = pool.run(code, timeout=30)
    assert r.status == "ok", r.stderr
    assert 1 <= int(r.stdout.split()[1]) < pool.nproc
    assert leftovers(pool) == []
    still_works(pool)


def test_setsid_and_double_fork_daemons_do_not_outlive_the_block(pool):
    marker = f"mathbench-daemon-{os.getpid()}-{time.time_ns()}"
    code = (
        "import os, sys, time, signal\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "            signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
        f"            os.execv(sys.executable, [sys.executable, '-c', 'import time\\nwhile 1: time.sleep(1)', {marker!r}])\n"
        "        os._exit(0)\n"
        "time.sleep(1.5)\nprint('parent done')\n"
    )
    r = pool.run(code, timeout=20)
    assert r.status == "ok" and r.stdout == "parent done\n", r.stderr

    def survivors():
        out = []
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                if marker.encode() in open(f"/proc/{pid}/cmdline", "rb").read() and not gone(int(pid)):
                    out.append(pid)
            except OSError:
                pass
        return out

    deadline = time.monotonic() + 5
    while survivors() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors() == []
    assert leftovers(pool) == []
    still_works(pool)


NESTED = "import os\nfor _ in range(1500):\n    os.mkdir('d')\n    os.chdir('d')\nprint('deep')\n"


def test_1500_nested_folders_hurt_neither_the_server_nor_a_neighbour(pool):
    server = pool.server_pid
    r, n = _run_beside(pool, NESTED)
    assert (r.status, r.stdout) == ("ok", "deep\n"), r.stderr
    assert (n.status, n.stdout) == ("ok", "neighbour ok\n"), n.stderr
    assert pool.server_pid == server and not gone(server)
    still_works(pool)


def test_1500_nested_folders_in_a_scratch_folder_the_server_removes(tmp_path):
    # Without a private /tmp the server itself deletes the block's scratch folder: it must not recurse.
    with SandboxPool(size=2, protections=(), drop_to=None, scratch_root=str(tmp_path)) as p:
        server = p.server_pid
        r, n = _run_beside(p, NESTED)
        assert r.stdout == "deep\n" and n.stdout == "neighbour ok\n", (r.stderr, n.stderr)
        assert p.server_pid == server and not gone(server)
        still_works(p)
        deadline = time.monotonic() + 10
        while any(e.name.startswith("mb-sbx-") and (e / "d").exists() for e in tmp_path.iterdir()):
            assert time.monotonic() < deadline, "the nested scratch folder was not removed"
            time.sleep(0.05)


def test_kill_minus_one_reaches_nothing_outside_the_block(pool):
    server = pool.server_pid
    r, n = _run_beside(pool, "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('still here')\n")
    # With nothing else in its PID namespace, kill(-1) finds no process at all (ESRCH).
    assert r.status in ("ok", "error", "killed")
    assert (n.status, n.stdout) == ("ok", "neighbour ok\n"), n.stderr
    assert pool.server_pid == server and not gone(server)
    still_works(pool)


def test_the_view_shows_the_interpreter_but_covers_the_installed_package_and_skips_the_project(tmp_path):
    from mathbench.core.sandbox.namespaces import plan_binds

    venv = tmp_path / "proj" / ".venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    (site / "mathbench").mkdir(parents=True)
    (site / "numpy").mkdir()
    proj = tmp_path / "proj"
    home = tmp_path / "home"
    (home / ".pyenv").mkdir(parents=True)
    # An editable install may put the project itself on sys.path; a wheel puts the package in site-packages.
    shown, covers = plan_binds([str(venv), str(home / ".pyenv")], [str(site), str(proj), str(tmp_path)],
                               [str(proj), str(home), str(site / "mathbench")])
    assert shown == sorted([str(venv), str(home / ".pyenv")], key=len)
    assert covers == [str(site / "mathbench")]


def test_a_block_may_ask_for_a_smaller_memory_limit_for_all_its_processes():
    with SandboxPool(size=1, preload=()) as p:
        if "memory" not in p.start().protections["active"]:
            pytest.skip("no memory cgroup on this machine")
        # Four processes of 120 MB each: each within its own address-space limit, together over 400 MB.
        code = ("import os, time\nkids = []\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
                "        block = b'\\x01' * (120 * 2**20)\n        time.sleep(2)\n        os._exit(0)\n"
                "    kids.append(pid)\n"
                "print(sum(os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) != 0 for k in kids))\n")
        assert p.run(code, timeout=30).stdout == "0\n"
        small = p.run(code, timeout=30, mem_mb=400)
        assert "memory limit of the block exceeded" in small.stderr, small
        assert p.run(code, timeout=30).stdout == "0\n"  # the slot's own limit is back
