"""The zygote: the preloaded process, inside the sandbox's filesystem view, that forks each block's process.

Forked by the fork server at start; it imports the heavy modules once, builds the view, then forks a block
process whenever the server asks, in a PID namespace of its own, and reports each one's exit status. It
never touches a caller's request, so the server keeps answering while the zygote forks.
"""

from __future__ import annotations

import array
import gc
import json
import os
import signal
import socket
import sys

from . import namespaces as ns
from .block import map_unreadable_paths, prepare_and_run
from .procs import PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, children, drain, prctl, wake_pipe

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
    gc.collect()
    gc.freeze()  # children never scan (and so never copy) the preloaded objects' pages


def send(sock: socket.socket, msg: dict, fds: list[int] = ()) -> None:
    """One message (and descriptors) on the server-zygote channel (a SOCK_SEQPACKET pair)."""
    data = json.dumps(msg).encode()
    if fds:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        sock.send(data)


def receive(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """The next message and the descriptors that came with it; (None, []) when the other side is gone."""
    data, anc, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(16 * 4))
    fds: list[int] = []
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            arr = array.array("i")
            arr.frombytes(payload[: len(payload) - len(payload) % arr.itemsize])
            fds.extend(arr)
    return (json.loads(data) if data else None), fds


class Zygote:
    """Forks block processes on request; runs in the server's child, never returns."""

    def __init__(self, cfg: dict, chan: socket.socket, want_view: bool, want_pid: bool):
        self.cfg = cfg
        self.chan = chan
        self.want_view = want_view
        self.want_pid = want_pid
        self.pidns_fd: int | None = None
        self.runners: set[int] = set()
        self.subreaper = False

    def setup(self) -> dict:
        """Preload, then build the view and open our PID namespace; say what worked."""
        cfg = self.cfg
        preload(cfg["preload"])
        report: dict = {"op": "ready", "view": False}
        if self.want_view:
            needed = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable),
                      os.path.dirname(os.path.realpath(sys.executable))]
            shown, covers = ns.plan_binds(needed, sys.path, cfg.get("hide") or [])
            try:
                ns.build_view(cfg["view_root"], shown, covers)
                report["view"] = True
            except OSError as exc:
                report["view_error"] = exc.strerror or str(exc)
                try:
                    ns.umount(cfg["view_root"], ns.MNT_DETACH)
                except OSError:
                    pass
        if self.want_pid:
            try:
                self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
                ns.setns(self.pidns_fd, ns.CLONE_NEWPID)
            except OSError as exc:
                report["pid_error"] = exc.strerror or str(exc)
                self.pidns_fd = None
        if not report["view"] and cfg.get("root") and cfg["drop_to"] is not None:
            cfg["keep_fds"] = map_unreadable_paths()
        return report

    def spawn(self, msg: dict) -> None:
        """Fork one block process and hand its descriptors to the server."""
        prep = msg["prep"]
        if self.pidns_fd is not None:
            try:
                ns.setns(self.pidns_fd, ns.CLONE_NEWPID)
                ns.unshare(ns.CLONE_NEWPID)
            except OSError as exc:
                prep["pid_error"] = exc.strerror or str(exc)
        elif self.want_pid:
            prep["pid_error"] = prep.get("pid_error") or "no PID namespace handle"
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ctl, ctl_child = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                prepare_and_run(self.cfg, prep, ctl_child, out_w, err_w)
            finally:
                os._exit(126)
        if self.pidns_fd is not None:
            try:
                ns.setns(self.pidns_fd, ns.CLONE_NEWPID)
            except OSError:
                pass
        self.runners.add(pid)
        try:
            send(self.chan, {"op": "spawned", "slot": msg["slot"], "pid": pid}, [out_r, err_r, ctl.fileno()])
        finally:
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            ctl.close()
            ctl_child.close()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.runners:
                self.runners.discard(pid)
                if self.subreaper:
                    self._kill_orphans()
                send(self.chan, {"op": "exited", "pid": pid, "status": status})

    def _kill_orphans(self) -> None:
        """Without PID namespaces: processes a block left behind were adopted by us; none may live on."""
        for pid in children(os.getpid()):
            if pid not in self.runners:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def loop(self) -> None:
        wake_r, _ = wake_pipe()
        signal.signal(signal.SIGCHLD, lambda *_: None)
        import select

        poll = select.poll()
        poll.register(self.chan.fileno(), select.POLLIN)
        poll.register(wake_r, select.POLLIN)
        while True:
            try:
                events = poll.poll()
            except InterruptedError:
                continue
            for fd, _ in events:
                if fd == wake_r:
                    drain(wake_r)
                    continue
                msg, fds = receive(self.chan)
                for extra in fds:
                    os.close(extra)
                if msg is None:
                    os._exit(0)
                if msg.get("op") == "spawn":
                    try:
                        self.spawn(msg)
                    except OSError as exc:
                        send(self.chan, {"op": "spawn_failed", "slot": msg["slot"], "error": str(exc)})
                elif msg.get("op") == "subreaper":
                    prctl(PR_SET_CHILD_SUBREAPER, 1)
                    self.subreaper = True
            self.reap()


def run(cfg: dict, chan: socket.socket, want_view: bool, want_pid: bool) -> None:
    """Body of the zygote process. Never returns."""
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        zygote = Zygote(cfg, chan, want_view, want_pid)
        send(chan, zygote.setup())
        zygote.loop()
    except BaseException as exc:  # noqa: BLE001 - the server sees the channel close and reports it
        try:
            os.write(2, f"[sandbox zygote] {exc!r}\n".encode())
        except OSError:
            pass
    os._exit(1)
