"""The per-block supervisor: makes the scratch folder, forks the block, enforces the wall clock, answers."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import tempfile
import time

from .block import run_block
from .procs import PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, kill_tree, prctl
from .wire import Capture, recv_msg, send_msg


def block_uid(cfg: dict, slot: int) -> int | None:
    """The uid a block runs as: none when not root or not dropping; with "auto" one uid per concurrent slot
    (from a range chosen by the server's pid), so blocks cannot signal, trace or starve each other."""
    if os.getuid() != 0 or cfg["drop_to"] is None:
        return None
    if cfg["drop_to"] == "auto":
        stride = max(256, cfg["size"])
        return 1_000_000 + (cfg["server_pid"] % 100_000) * stride + slot
    return int(cfg["drop_to"])


def supervise(conn: socket.socket, cfg: dict) -> None:
    """Child of the server: run one request in a runner and answer on *conn*. Never returns."""
    scratch = None
    runner_pid = None

    def on_term(signum, frame):
        kill_tree(runner_pid)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        os._exit(143)

    try:
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        if os.getppid() != cfg["server_pid"]:
            os._exit(1)
        req = recv_msg(conn)
        timeout = max(0.05, float(req.get("timeout", 10.0)))
        cap = int(req.get("max_output") or cfg["max_output"])
        scratch = tempfile.mkdtemp(prefix=f"mb-sbx-{os.getpid()}-", dir=cfg["scratch_root"])
        if cfg.get("uid") is not None:
            os.chown(scratch, cfg["uid"], -1)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        start = time.monotonic()
        runner_pid = os.fork()
        if runner_pid == 0:
            conn.close()
            os.close(out_r)
            os.close(err_r)
            run_block(req, scratch, out_w, err_w, cfg)
        os.close(out_w)
        os.close(err_w)
        conn.sendall(b"A")  # started: the caller's own safety clock begins now
        try:
            pidfd = os.pidfd_open(runner_pid)
        except (AttributeError, OSError):
            pidfd = None  # kernels before 5.3: poll for the runner's exit instead
        caps = {out_r: Capture(cap), err_r: Capture(cap)}
        open_fds = {out_r, err_r}
        deadline = start + timeout
        status_code = None
        timed_out = False
        while status_code is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            try:
                ready, _, _ = select.select(list(open_fds) + ([pidfd] if pidfd is not None else []), [], [],
                                            remaining if pidfd is not None else min(remaining, 0.01))
            except InterruptedError:
                continue
            if pidfd is None:
                pid, st = os.waitpid(runner_pid, os.WNOHANG)
                if pid:
                    status_code = st
            for fd in ready:
                if pidfd is not None and fd == pidfd:
                    _, status_code = os.waitpid(runner_pid, 0)
                    continue
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    caps[fd].feed(chunk)
                else:
                    open_fds.discard(fd)
        duration = time.monotonic() - start
        if timed_out:
            try:
                os.killpg(runner_pid, signal.SIGKILL)
            except OSError:
                pass
            _, status_code = os.waitpid(runner_pid, 0)
        kill_tree(runner_pid)
        # Everything holding the pipes is dead now: drain what is left.
        for fd in list(open_fds):
            os.set_blocking(fd, False)
            while True:
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                caps[fd].feed(chunk)
        stdout, t1 = caps[out_r].text()
        stderr, t2 = caps[err_r].text()
        if os.WIFSIGNALED(status_code):
            sig = os.WTERMSIG(status_code)
            returncode = -sig
            status = "timeout" if timed_out or sig == signal.SIGXCPU else "killed"
            if not timed_out:
                name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
                note = {signal.SIGXCPU: "CPU time limit exceeded", signal.SIGXFSZ: "file size limit exceeded"}.get(sig)
                stderr += f"\n[sandbox] killed by {name}" + (f" ({note})" if note else "") + "\n"
        else:
            returncode = os.WEXITSTATUS(status_code)
            status = "timeout" if timed_out else ("ok" if returncode == 0 else "error")
        if timed_out:
            stderr += f"\n[sandbox] wall-clock timeout after {timeout:g} s\n"
        result = {
            "stdout": stdout,
            "stderr": stderr,
            "status": status,
            "duration": duration,
            "returncode": returncode,
            "truncated": t1 or t2,
        }
        shutil.rmtree(scratch, ignore_errors=True)
        scratch = None
        send_msg(conn, result)
    except BaseException as exc:  # noqa: BLE001 - answer with the failure rather than a silent EOF
        try:
            kill_tree(runner_pid)
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            send_msg(conn, {"stdout": "", "stderr": f"[sandbox] supervisor error: {exc!r}\n", "status": "killed",
                            "duration": 0.0, "returncode": -9, "truncated": False})
        except BaseException:
            pass
        os._exit(1)
    os._exit(0)


def remove_scratch_of(supervisor_pid: int, root: str) -> None:
    """Remove the scratch folder of a supervisor that died without cleaning up (e.g. SIGKILLed)."""
    prefix = f"mb-sbx-{supervisor_pid}-"
    try:
        names = [n for n in os.listdir(root) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
