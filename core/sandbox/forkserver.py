"""The fork server: keeps one prepared block process per slot and runs each caller's block in one.

A small single-threaded process (it never imports the heavy modules: its zygote child does, and forks
the block processes): one poll loop accepts callers, hands each request to a prepared (already isolated
and limited) block process, captures its output with a cap, enforces the wall clock, answers, and asks
the zygote for the slot's next process. Nothing a block does and no cleanup step can raise out of the loop.
"""

from __future__ import annotations

import collections
import json
import os
import select
import signal
import socket
import sys
import time
import traceback

from . import namespaces as ns
from . import zygote
from .isolation import MB, PROTECTIONS, Isolation
from .procs import PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, children, drain, prctl, remove_entry, remove_tree, wake_pipe
from .supervisor import Block, Runner, failure
from .wire import recv_msg, send_msg

# A slot whose process fails to prepare this many times in a row answers its queue with the error.
MAX_PREP_FAILURES = 3
PREPARE_S = 60.0  # a block process not isolated by then is killed and replaced


def _log(message: str) -> None:
    try:
        os.write(2, f"[sandbox server {time.strftime('%H:%M:%S')}] {message}\n".encode(errors="replace"))
    except OSError:
        pass


class Server:
    """The fork server's state: slots, their prepared processes, callers waiting, blocks running."""

    def __init__(self, cfg: dict, iso: Isolation):
        self.cfg = cfg
        self.iso = iso
        self.size = iso.size
        self.spawning: dict[int, str | None] = {}  # slot -> fallback scratch, while the zygote forks
        self.runners: dict[int, Runner] = {}  # pid -> runner
        self.slot_runner: dict[int, Runner | None] = {i: None for i in range(self.size)}
        self.failures = [0] * self.size
        self.retry_at: dict[int, float] = {}
        self.queue: collections.deque = collections.deque()  # (conn, request)
        self.pending: dict[int, tuple[socket.socket, bytearray]] = {}
        self.poll = select.poll()
        self.handlers: dict[int, tuple] = {}
        self.closing = False

    @property
    def groups(self):
        """The slots' cgroups (made when the isolation is established), or None."""
        return self.iso.groups

    def probe(self) -> None:
        """Prepare slot 0's first process trying every protection; what it achieved is required from then on."""
        self.spawn(0, probe=True)
        while True:
            msg, fds = zygote.receive(self.iso.chan)
            if msg is None or msg.get("op") == "spawn_failed":
                raise RuntimeError(f"the first block process did not start: {msg and msg.get('error')}")
            if msg.get("op") == "spawned":
                runner = self.on_spawned(msg, fds)
                break
        self._unwatch(runner.ctl.fileno())
        runner.ctl.settimeout(120)
        try:
            msg = recv_msg(runner.ctl)
        except (EOFError, OSError) as exc:
            raise RuntimeError(f"the first block process did not start: {exc!r}") from None
        if msg.get("error"):
            raise RuntimeError(f"the first block process failed: {msg['error']}")
        runner.steps = msg["steps"]
        self.iso.settle(runner.steps)

    # -- block processes ----------------------------------------------------------------------

    def spawn(self, slot: int, probe: bool = False) -> None:
        """Ask the zygote for the slot's next block process (it answers with a `spawned` message)."""
        prep = self.iso.prep(slot, probe)
        scratch = prep["scratch"] if prep["scratch"] != "/tmp" else None
        self.slot_runner[slot] = None
        self.spawning[slot] = scratch
        try:
            zygote.send(self.iso.chan, {"op": "spawn", "slot": slot, "prep": prep})
        except OSError:
            self.spawning.pop(slot, None)
            if scratch:
                remove_tree(scratch)
            raise

    def on_spawned(self, msg: dict, fds: list[int]) -> Runner:
        """The zygote forked a block process: keep its descriptors and wait for it to say it is ready."""
        out_r, err_r, ctl_fd = fds
        slot = int(msg["slot"])
        runner = Runner(slot, int(msg["pid"]), socket.socket(fileno=ctl_fd), out_r, err_r,
                        self.spawning.pop(slot, None))
        self.runners[runner.pid] = runner
        self.slot_runner[slot] = runner
        self._watch(ctl_fd, ("prepared", runner))
        return runner

    def on_zygote(self) -> None:
        """A message from the zygote: a process forked, one exited, or a fork failed."""
        msg, fds = zygote.receive(self.iso.chan)
        if msg is None:
            _log("the zygote died: stopping")
            self.shutdown()
        op = msg.get("op")
        if op == "spawned":
            self.on_spawned(msg, fds)
            return
        for fd in fds:
            os.close(fd)
        if op == "exited":
            runner = self.runners.pop(int(msg["pid"]), None)
            if runner is not None:
                self.on_exit(runner, int(msg["status"]))
        elif op == "spawn_failed":
            slot = int(msg["slot"])
            scratch = self.spawning.pop(slot, None)
            if scratch:
                remove_tree(scratch)
            _log(f"slot {slot}: cannot fork a block process: {msg.get('error')}")
            self.failures[slot] += 1
            self.retry_at[slot] = time.monotonic() + 0.5

    def on_prepared(self, runner: Runner) -> None:
        """The block process said it is isolated (or why it is not)."""
        self._unwatch(runner.ctl.fileno())
        runner.ctl.settimeout(5)
        try:
            msg = recv_msg(runner.ctl)
        except (EOFError, OSError, ValueError) as exc:
            msg = {"error": f"no word from the block process: {exc!r}"}
        if msg.get("error"):
            runner.error = msg["error"]
            _log(f"slot {runner.slot}: block process failed to prepare: {runner.error}")
            self._kill(runner)
            return
        runner.steps = msg.get("steps") or {}
        self.failures[runner.slot] = 0
        self.dispatch()

    def dispatch(self) -> None:
        """Hand waiting requests to prepared processes."""
        while self.queue:
            runner = next((r for r in self.runners.values() if r.ready), None)
            if runner is None:
                return
            conn, req = self.queue.popleft()
            slot = runner.slot
            oom = self.groups.oom_kills(slot) if self.groups else 0
            mem = req.get("mem_mb")
            if self.groups and self.groups.limits_memory and mem and int(mem) != int(self.cfg["mem_mb"]):
                try:
                    self.groups.set_memory(slot, int(mem) * MB)
                except OSError as exc:
                    _log(f"slot {slot}: cannot set the memory limit: {exc}")
            try:
                conn.sendall(b"A")  # started: the caller's own safety clock begins now
            except OSError:
                conn.close()  # the caller gave up while waiting
                continue
            block = Block(conn, req, runner, int(req.get("max_output") or self.cfg["max_output"]), oom)
            runner.block = block
            try:
                send_msg(runner.ctl, req)
            except OSError as exc:
                runner.error = f"gone before its code: {exc}"
                self._kill(runner)
            if "pid" in self.iso.active:
                # Its exit code may come before its teardown; with a PID namespace, killing it then ends it all.
                runner.ctl.setblocking(False)
                self._watch(runner.ctl.fileno(), ("status", block))
            for fd in (runner.out_r, runner.err_r):
                os.set_blocking(fd, False)
                self._watch(fd, ("output", block))
            conn.setblocking(False)
            self._watch(conn.fileno(), ("hangup", block))

    def on_exit(self, runner: Runner, wait_status: int) -> None:
        """A block process ended: answer its caller, clean up, prepare the slot's next process."""
        slot = runner.slot
        try:
            self._settle(runner, wait_status)
        finally:
            if self.slot_runner.get(slot) is runner:
                self.slot_runner[slot] = None
            if self.failures[slot] >= MAX_PREP_FAILURES:
                self._fail_queue(runner.error or "its process ended before it was ready")
                self.retry_at[slot] = time.monotonic() + 1.0
            elif not self.closing:
                self._respawn(slot)

    def _settle(self, runner: Runner, wait_status: int) -> None:
        for fd in (runner.ctl.fileno(), runner.out_r, runner.err_r):
            self._unwatch(fd)
        block = runner.block
        slot = runner.slot
        if "pid" not in self.iso.active:
            self._kill_leftovers(runner)
        if block is not None:
            self._unwatch(block.conn.fileno())
            block.drain()
            oom = self.groups.oom_kills(slot) if self.groups else 0
            if block.abandoned or block.answered:
                pass
            elif runner.error and block.caps[runner.err_r].total == 0:
                self._answer(block.conn, failure(f"the block process failed: {runner.error}"))
            else:
                self._answer(block.conn, block.result(wait_status, oom))
            block.conn.close()
            mem = block.req.get("mem_mb")
            if self.groups and self.groups.limits_memory and mem and int(mem) != int(self.cfg["mem_mb"]):
                try:
                    self.groups.set_memory(slot, int(self.cfg["mem_mb"]) * MB)
                except OSError:
                    pass
        elif runner.error or runner.steps is None:
            self.failures[slot] += 1
            if runner.error is None:
                _log(f"slot {slot}: block process ended before it was ready (status {wait_status})")
        for fd in (runner.out_r, runner.err_r):
            try:
                os.close(fd)
            except OSError:
                pass
        runner.ctl.close()
        if runner.scratch:
            remove_tree(runner.scratch)

    def _finish_early(self, block: Block) -> None:
        """Answer as soon as the block's process reported its exit code and its output is closed, then kill it
        (it is exiting anyway): the caller does not wait for the teardown of a large process."""
        if block.answered or block.abandoned or not block.done_early:
            return
        block.answered = True
        oom = self.groups.oom_kills(block.runner.slot) if self.groups else 0
        self._unwatch(block.conn.fileno())
        self._answer(block.conn, block.result(block.rc << 8, oom))
        block.conn.close()
        self._kill(block.runner)

    def _respawn(self, slot: int) -> None:
        if slot in self.spawning or self.slot_runner.get(slot) is not None:
            return
        try:
            self.spawn(slot)
        except OSError as exc:
            _log(f"slot {slot}: cannot fork a block process: {exc}")
            self.retry_at[slot] = time.monotonic() + 0.5

    def _fail_queue(self, why: str) -> None:
        if all(self.failures[s] >= MAX_PREP_FAILURES for s in range(self.size)):
            while self.queue:
                conn, _ = self.queue.popleft()
                try:
                    conn.sendall(b"A")
                    self._answer(conn, failure(f"the sandbox could not prepare a block: {why}"))
                finally:
                    conn.close()

    def _answer(self, conn: socket.socket, result: dict) -> None:
        try:
            conn.setblocking(True)
            conn.settimeout(10)
            send_msg(conn, result)
        except OSError:
            pass

    def _kill(self, runner: Runner) -> None:
        for target in (runner.pid, -runner.pid):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass

    def _kill_leftovers(self, runner: Runner) -> None:
        """Without a PID namespace: kill what the block left (its group, its cgroup, its uid; orphans: the zygote)."""
        self._kill(runner)
        if self.groups is not None and "cgroup" in self.iso.require:
            self.groups.kill(runner.slot)
        uid = self.iso.block_uid(runner.slot)
        if uid is not None:
            killer = os.fork()
            if killer == 0:
                try:
                    os.setuid(uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)

    # -- the loop ------------------------------------------------------------------------------

    def _watch(self, fd: int, handler: tuple) -> None:
        self.handlers[fd] = handler
        self.poll.register(fd, select.POLLIN)

    def _unwatch(self, fd: int) -> None:
        if self.handlers.pop(fd, None) is not None:
            try:
                self.poll.unregister(fd)
            except (KeyError, ValueError):
                pass

    def reap(self) -> None:
        """Our own children are the zygote and short-lived helpers (block processes are the zygote's)."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.iso.zygote_pid and not self.closing:
                _log("the zygote exited: stopping")
                self.shutdown()

    def on_event(self, fd: int, handler: tuple) -> None:
        kind, obj = handler
        if kind == "listen":
            conn, _ = obj.accept()
            conn.setblocking(False)
            self.pending[conn.fileno()] = (conn, bytearray())
            self._watch(conn.fileno(), ("request", conn))
        elif kind == "request":
            self._read_request(obj)
        elif kind == "prepared":
            self.on_prepared(obj)
        elif kind == "zygote":
            self.on_zygote()
        elif kind == "output":
            obj.feed(fd)
            if fd not in obj.open_fds:
                self._unwatch(fd)
                self._finish_early(obj)
        elif kind == "status":
            if not obj.read_status():
                self._unwatch(fd)
            self._finish_early(obj)
        elif kind == "hangup":
            try:
                data = obj.conn.recv(1)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                obj.abandoned = True
                self._unwatch(fd)
                self._kill(obj.runner)

    def _read_request(self, conn: socket.socket) -> None:
        fd = conn.fileno()
        _, buf = self.pending[fd]
        try:
            chunk = conn.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._unwatch(fd)
            self.pending.pop(fd, None)
            conn.close()
            return
        buf += chunk
        if len(buf) >= 4:
            n = int.from_bytes(buf[:4], "big")
            if len(buf) >= 4 + n:
                self._unwatch(fd)
                self.pending.pop(fd, None)
                try:
                    req = json.loads(bytes(buf[4:4 + n]).decode("utf-8", "surrogatepass"))
                    req["code"] = str(req["code"])
                except (ValueError, KeyError, TypeError):
                    conn.close()
                    return
                self.queue.append((conn, req))
                self.dispatch()

    def run_forever(self, lsock: socket.socket, wake_r: int) -> None:
        ctl = sys.stdin.fileno()
        self._watch(ctl, ("control", None))
        self._watch(wake_r, ("wake", None))
        self._watch(lsock.fileno(), ("listen", lsock))
        self._watch(self.iso.chan.fileno(), ("zygote", None))
        while True:
            now = time.monotonic()
            deadlines = [r.block.deadline if r.block else r.born + PREPARE_S for r in self.runners.values()
                         if (r.block and not r.block.timed_out) or (r.steps is None and r.error is None)]
            deadlines += list(self.retry_at.values())
            wait = max(0.0, min(deadlines) - now) if deadlines else None
            try:
                events = self.poll.poll(None if wait is None else int(wait * 1000) + 1)
            except InterruptedError:
                continue
            for fd, _ in events:
                handler = self.handlers.get(fd)
                if handler is None:
                    continue
                kind = handler[0]
                if kind == "control":
                    if not os.read(ctl, 4096):
                        self.shutdown()
                    continue
                if kind == "wake":
                    drain(wake_r)
                    continue
                try:
                    self.on_event(fd, handler)
                except Exception:  # noqa: BLE001 - one bad event never takes the server down
                    _log("event failed:\n" + traceback.format_exc())
            try:
                self.reap()
                self._expire()
            except Exception:  # noqa: BLE001
                _log("bookkeeping failed:\n" + traceback.format_exc())

    def _expire(self) -> None:
        now = time.monotonic()
        for runner in list(self.runners.values()):
            block = runner.block
            if block is not None and not block.timed_out and now >= block.deadline:
                block.timed_out = True
                self._kill(runner)
            elif runner.steps is None and runner.error is None and now >= runner.born + PREPARE_S:
                runner.error = f"not ready after {PREPARE_S:g} s"
                _log(f"slot {runner.slot}: block process {runner.error}")
                self._kill(runner)
        for slot, when in list(self.retry_at.items()):
            if now >= when:
                del self.retry_at[slot]
                if self.slot_runner.get(slot) is None:
                    self.failures[slot] = min(self.failures[slot], MAX_PREP_FAILURES - 1)
                    self._respawn(slot)

    def shutdown(self, *_args) -> None:
        """Kill the zygote and every block process, remove the cgroups, scratch folders and private folder; exit."""
        self.closing = True
        try:
            for pid in [self.iso.zygote_pid, *self.runners]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            end = time.monotonic() + 3.0
            # Block processes are the zygote's children (also one it was still forking): the zygote's death
            # kills them; wait until they are gone and their groups empty, so that the groups can go too.
            def remaining() -> bool:
                # We are their subreaper once the zygote is gone: a process we have not reaped still counts.
                if children(os.getpid()):
                    return True
                return self.groups is not None and any(self.groups.members(i) for i in range(self.size))

            while time.monotonic() < end and remaining():
                self.reap()
                time.sleep(0.01)
            for runner in self.runners.values():
                if runner.scratch:
                    remove_tree(runner.scratch)
            for scratch in self.spawning.values():
                if scratch:
                    remove_tree(scratch)
            if self.groups is not None:
                self.groups.remove()
            parent_fd, name = self.cfg["_private_dir"]
            remove_entry(parent_fd, name)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(0)


def serve(cfg: dict) -> None:
    """Start the server: listen, isolate, start the zygote, probe, say `ready PID PROTECTIONS`, then loop."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != cfg["parent_pid"]:
        sys.exit(1)
    prctl(PR_SET_CHILD_SUBREAPER, 1)  # block processes whose zygote died come to us, to be reaped
    wanted = set(cfg["protections"] if "protections" in cfg else PROTECTIONS)
    userns = None
    if os.getuid() != 0 and wanted & {"network", "filesystem", "tmp", "pid", "ipc"}:
        userns = ns.enter_user_namespace()
    iso = Isolation(cfg, userns)
    server = Server(cfg, iso)
    private = os.path.dirname(cfg["socket"])
    cfg["_private_dir"] = (os.open(os.path.dirname(private), os.O_RDONLY | os.O_DIRECTORY), os.path.basename(private))
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(cfg["socket"])
    lsock.listen(1024)
    lsock.setblocking(False)
    wake_r, _ = wake_pipe()
    signal.signal(signal.SIGCHLD, lambda s, f: None)
    signal.signal(signal.SIGTERM, server.shutdown)
    iso.establish(lsock)
    server.probe()
    for slot in range(1, server.size):
        server.spawn(slot)
    line = f"ready {iso.pid} {json.dumps(iso.protections())}\n"
    os.write(sys.stdout.fileno(), line.encode())
    server.run_forever(lsock, wake_r)
