"""The fork server's loop: preload heavy modules once, then fork a supervisor per code block, *size* at a time."""

from __future__ import annotations

import errno
import os
import select
import shutil
import signal
import socket
import sys
import time

from .block import map_unreadable_paths
from .procs import PR_SET_PDEATHSIG, prctl
from .supervisor import block_uid, remove_scratch_of, supervise

# Cheap stdlib modules PoT code imports often; loaded once here, they cost a block nothing.
STDLIB_PRELOAD = ("fractions", "decimal", "itertools", "functools", "collections", "statistics", "random",
                  "re", "cmath", "datetime", "string", "heapq", "bisect", "operator", "copy", "json")


def preload(modules) -> None:
    """Import *modules* and the cheap stdlib ones, and warm sympy's lazily built parts."""
    for mod in list(modules) + list(STDLIB_PRELOAD):
        try:
            __import__(mod)
        except Exception:  # noqa: BLE001 - a missing optional module only costs speed
            pass
    if "sympy" in sys.modules:
        # Touch the lazily built parts so every child starts with them already in memory.
        import sympy

        x, y = sympy.symbols("x y")
        sympy.sympify("x**2 + 1/2").simplify()
        sympy.solve(x**2 - 5 * x + 6, x)
        sympy.solve([x + y - 10, x - y - 2], [x, y])
        sympy.integrate(x**2, (x, 0, 1))
        sympy.factor(sympy.expand((x + 1) ** 3 - 1))
        sympy.N(sympy.sqrt(2) + sympy.Rational(1, 3), 10)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)  # the first seeding is slow; pay it once here


def serve(cfg: dict) -> None:
    """The server loop: accept while fewer than cfg['size'] blocks run; exit when the caller goes away."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != cfg["parent_pid"]:
        sys.exit(1)
    preload(cfg["preload"])
    if os.getuid() == 0 and cfg["drop_to"] is not None:
        cfg["keep_fds"] = map_unreadable_paths()
    cfg["server_pid"] = os.getpid()
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(cfg["socket"])
    lsock.listen(1024)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda s, f: None)
    supervisors: dict[int, int] = {}  # pid -> slot
    free_slots = list(range(cfg["size"] - 1, -1, -1))

    def shutdown(*_args):
        for pid in supervisors:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        end = time.monotonic() + 3.0
        while supervisors and time.monotonic() < end:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                supervisors.pop(pid, None)
            else:
                time.sleep(0.01)
        for pid in supervisors:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            remove_scratch_of(pid, cfg["scratch_root"])
        # The private folder holds only the socket and this server's log.
        shutil.rmtree(os.path.dirname(cfg["socket"]), ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    ctl = sys.stdin.fileno()
    os.write(sys.stdout.fileno(), f"ready {os.getpid()}\n".encode())
    while True:
        watch = [ctl, wake_r] + ([lsock] if len(supervisors) < cfg["size"] else [])
        try:
            ready, _, _ = select.select(watch, [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            try:
                while os.read(wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        while supervisors:
            try:
                pid, wstatus = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                supervisors.clear()
                free_slots[:] = list(range(cfg["size"] - 1, -1, -1))
                break
            if pid == 0:
                break
            if pid in supervisors:
                free_slots.append(supervisors.pop(pid))
            if wstatus != 0:
                remove_scratch_of(pid, cfg["scratch_root"])
        if ctl in ready:
            if not os.read(ctl, 4096):
                shutdown()
        if lsock in ready and len(supervisors) < cfg["size"]:
            try:
                conn, _ = lsock.accept()
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EINTR, errno.ECONNABORTED):
                    continue
                raise
            slot = free_slots.pop()
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                lsock.close()
                for fd in (ctl, wake_r, wake_w):
                    os.close(fd)
                cfg["uid"] = block_uid(cfg, slot)
                supervise(conn, cfg)
            conn.close()
            supervisors[pid] = slot
