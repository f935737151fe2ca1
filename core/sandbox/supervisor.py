"""What the fork server keeps per slot: the prepared block process, and the block it is running (output, clock, result)."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

from .wire import Capture

SIGNAL_NOTES = {signal.SIGXCPU: "CPU time limit exceeded", signal.SIGXFSZ: "file size limit exceeded"}


class Runner:
    """A forked block process: isolated ahead of time, then waiting on *ctl* for its code."""

    def __init__(self, slot: int, pid: int, ctl: socket.socket, out_r: int, err_r: int, scratch: str | None):
        self.slot = slot
        self.pid = pid
        self.ctl = ctl
        self.out_r = out_r
        self.err_r = err_r
        self.scratch = scratch  # a folder the server made (no private /tmp): removed after the block
        self.steps: dict | None = None  # what its isolation achieved, once it said so
        self.error: str | None = None
        self.born = time.monotonic()
        self.block: "Block | None" = None

    @property
    def ready(self) -> bool:
        return self.steps is not None and self.error is None and self.block is None


class Block:
    """One code block being run: the caller's connection, output captured with a cap, the wall clock."""

    def __init__(self, conn: socket.socket, req: dict, runner: Runner, cap: int, oom_before: int):
        self.conn = conn
        self.req = req
        self.runner = runner
        self.timeout = max(0.05, float(req.get("timeout", 10.0)))
        self.start = time.monotonic()
        self.deadline = self.start + self.timeout
        self.caps = {runner.out_r: Capture(cap), runner.err_r: Capture(cap)}
        self.open_fds = {runner.out_r, runner.err_r}
        self.timed_out = False
        self.abandoned = False  # the caller hung up: nobody wants the result
        self.answered = False
        self.oom_before = oom_before
        self.rc: int | None = None  # the exit code the block process reported before exiting
        self._status = bytearray()

    def read_status(self) -> bool:
        """Read the block process's exit-code message (if any) from its control socket; False at its end."""
        try:
            chunk = self.runner.ctl.recv(4096)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        if not chunk:
            return False
        self._status += chunk
        if len(self._status) > 4096:  # nothing honest is that long: ignore it, the exit status will do
            return False
        if len(self._status) >= 4:
            n = int.from_bytes(self._status[:4], "big")
            if len(self._status) >= 4 + n:
                try:
                    rc = json.loads(bytes(self._status[4:4 + n])).get("rc")
                    self.rc = int(rc) & 0xFF if isinstance(rc, int) else None
                except (ValueError, AttributeError):
                    pass
                return False
        return True

    @property
    def done_early(self) -> bool:
        """The process reported its exit code and every writer of its output is gone."""
        return self.rc is not None and not self.open_fds and not self.timed_out

    def feed(self, fd: int) -> bool:
        """Read what is ready on one of the block's output pipes; False when nothing was (or will be) there."""
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.open_fds.discard(fd)
            return False
        self.caps[fd].feed(chunk)
        return True

    def drain(self) -> None:
        """After the block's processes are gone: read what is left without waiting."""
        for fd in list(self.open_fds):
            os.set_blocking(fd, False)
            while self.feed(fd):
                pass

    def result(self, wait_status: int, oom_kills: int) -> dict:
        """The JSON answer for the caller, from the block process's wait status."""
        duration = time.monotonic() - self.start
        stdout, t1 = self.caps[self.runner.out_r].text()
        stderr, t2 = self.caps[self.runner.err_r].text()
        if os.WIFSIGNALED(wait_status):
            sig = os.WTERMSIG(wait_status)
            returncode = -sig
            status = "timeout" if self.timed_out or sig == signal.SIGXCPU else "killed"
            if not self.timed_out:
                name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
                note = SIGNAL_NOTES.get(sig)
                if oom_kills > self.oom_before:
                    note = "memory limit of the block exceeded"
                stderr += f"\n[sandbox] killed by {name}" + (f" ({note})" if note else "") + "\n"
        else:
            returncode = os.WEXITSTATUS(wait_status)
            status = "timeout" if self.timed_out else ("ok" if returncode == 0 else "error")
            if oom_kills > self.oom_before and status != "timeout":
                stderr += "\n[sandbox] a process of the block was killed: memory limit of the block exceeded\n"
        if self.timed_out:
            stderr += f"\n[sandbox] wall-clock timeout after {self.timeout:g} s\n"
        return {"stdout": stdout, "stderr": stderr, "status": status, "duration": duration,
                "returncode": returncode, "truncated": t1 or t2}


def failure(message: str) -> dict:
    """The answer for a block the sandbox itself could not run."""
    return {"stdout": "", "stderr": f"[sandbox] {message}\n", "status": "killed", "duration": 0.0,
            "returncode": -9, "truncated": False}
