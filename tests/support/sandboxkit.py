"""Looking at the sandbox from outside: its process tree, what a block left behind, a loopback listener."""

from __future__ import annotations

import os
import socket
import time
import threading

from mathbench.core.sandbox.pool import SandboxPool
from mathbench.core.sandbox.procs import children, descendants  # noqa: F401 - used by the tests too


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def leftovers(pool: SandboxPool, settle: float = 5.0) -> list[int]:
    """Live processes below the block processes after the teardown has had *settle* seconds: the server's
    child is the zygote, its children the block processes (each the first process of its block); an idle
    block process has none. The server answers before the kernel has finished killing a block's namespace."""
    deadline = time.monotonic() + settle
    while True:
        out = []
        for zygote in children(pool.server_pid):
            for runner in children(zygote):
                out += [p for p in descendants(runner) if not gone(p)]
        if not out or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def still_works(pool: SandboxPool) -> None:
    r = pool.run("print(6 * 7)", timeout=10)
    assert (r.status, r.stdout) == ("ok", "42\n"), r.stderr


def active(pool: SandboxPool) -> set[str]:
    return set(pool.start().protections["active"])


class Listener:
    """A loopback TCP server counting the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()
