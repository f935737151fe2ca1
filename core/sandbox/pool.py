"""Run untrusted Python (model-written PoT code) fast and contained.

A warm pool: one fork-server process preloads math, numpy and sympy, then forks a fresh process per
code block, so a block costs milliseconds instead of the ~0.8 s of starting Python and importing sympy.
Where the kernel allows, each block has no network, sees a read-only filesystem without the project,
home or workspace, gets a private /tmp and /dev/shm, its own PID and IPC namespaces (nothing it starts
outlives it), one memory limit and process cap for all its processes (a cgroup), and its own
unprivileged uid; always CPU, address-space, file-size and open-file limits, a minimal environment and
a wall-clock timeout. `SandboxPool.protections` says which of these hold. Output is captured with a cap
that keeps the head and the tail. The workers die with the caller, even on `kill -9`.

    from mathbench.core.sandbox.pool import run_python
    r = run_python("import sympy; print(sympy.factorint(360))", timeout=5)
    r.status, r.stdout            # ("ok", "{2: 3, 3: 2, 5: 1}\\n")
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from mathbench.core.sandbox.wire import recv_exact as _recv_exact

STATUSES = ("ok", "error", "timeout", "killed")
# What a block may be protected by (the fork server reports which of these hold on this machine).
PROTECTIONS = ("network", "filesystem", "tmp", "pid", "ipc", "memory", "processes", "uid", "no-new-privs")
_WORKER = Path(__file__).with_name("worker.py")
# Extra seconds the caller waits past a block's timeout before giving up on its supervisor.
_SAFETY_S = 15.0


class SandboxError(RuntimeError):
    """The sandbox itself could not start."""


@dataclass
class ExecResult:
    """What running one code block produced."""

    stdout: str
    stderr: str
    status: str  # ok | error | timeout | killed
    duration: float
    returncode: int | None = None
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        """A JSON-ready dict (the `executions` entries of a run record use these keys)."""
        return asdict(self)

    def error_tail(self, n_lines: int = 5) -> str:
        """The last *n_lines* non-empty lines of stderr: the end of a traceback, as a person reads it."""
        lines = [ln for ln in self.stderr.rstrip().splitlines() if ln.strip()]
        return "\n".join(lines[-n_lines:])


def _failed(message: str, duration: float = 0.0) -> ExecResult:
    return ExecResult(stdout="", stderr=f"[sandbox] {message}\n", status="killed", duration=duration, returncode=-9)


def _encode(obj: dict) -> bytes:
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return struct.pack("!I", len(data)) + data


def _result(obj: dict) -> ExecResult:
    return ExecResult(
        stdout=obj["stdout"], stderr=obj["stderr"], status=obj["status"], duration=float(obj["duration"]),
        returncode=obj.get("returncode"), truncated=bool(obj.get("truncated")),
    )


def hidden_paths(extra: Iterable[str] = ()) -> list[str]:
    """Folders no block may see: this project (its source or installed package), home, the current folder, *extra*."""
    project = Path(__file__).resolve().parents[2]
    try:
        cwd = os.getcwd()
    except OSError:  # the current folder was deleted
        cwd = ""
    paths = {str(project), os.path.expanduser("~"), os.environ.get("HOME", ""), cwd, *extra}
    out = set()
    for p in paths:
        if p:
            out.add(os.path.abspath(p))
            out.add(os.path.realpath(p))
    return sorted(out)


class SandboxPool:
    """A warm pool running up to *size* code blocks at once; thread-safe, with a sync and an async API.

    size: blocks run concurrently (default: CPU count); more wait their turn.
    preload: modules imported once in the fork-server.
    mem_mb: address-space limit per block; fsize_mb: largest file a block may write;
    nproc: processes a block may have (as `nobody` when the caller is root);
    max_output: bytes kept per stream (half head, half tail).
    drop_to (when the caller is root): "auto" runs each concurrent slot as its own unprivileged uid (blocks
    cannot signal or starve one another; RLIMIT_NPROC, which root ignores, then holds); an int is one
    fixed uid (65534 = nobody); None keeps root (no process limit: only for trusted code).
    protections: the ones to attempt (default all of PROTECTIONS); hide: more folders (e.g. a workspace)
    kept out of the blocks' view besides the project, home and current folder.
    """

    def __init__(
        self,
        size: int | None = None,
        preload: tuple[str, ...] = ("math", "numpy", "sympy"),
        mem_mb: int = 2048,
        fsize_mb: int = 64,
        nproc: int = 64,
        max_output: int = 64 * 1024,
        drop_to: int | str | None = "auto",
        scratch_root: str | None = None,
        protections: Iterable[str] | None = None,
        hide: Iterable[str | os.PathLike] = (),
    ):
        self.size = max(1, int(size or os.cpu_count() or 2))
        self.preload = tuple(preload)
        self.mem_mb = mem_mb
        self.fsize_mb = fsize_mb
        self.nproc = nproc
        self.max_output = max_output
        self.drop_to = drop_to
        self.scratch_root = scratch_root or tempfile.gettempdir()
        self.wanted = tuple(protections) if protections is not None else PROTECTIONS
        unknown = set(self.wanted) - set(PROTECTIONS)
        if unknown:
            raise ValueError(f"unknown protections {sorted(unknown)}; known: {', '.join(PROTECTIONS)}")
        self.hide = [str(h) for h in hide]
        self.protections: dict | None = None  # what the running server enforces, once started
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._dir: str | None = None
        self._socket: str | None = None
        self._closed = False
        self.server_pid: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "SandboxPool":
        """Start the fork-server now (otherwise the first run does); returns self."""
        self._ensure_started()
        return self

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _ensure_started(self) -> str:
        with self._lock:
            if self._closed:
                raise SandboxError("sandbox pool is closed")
            if self._alive():
                return self._socket  # type: ignore[return-value]
            self._stop_locked()
            self._spawn_locked()
            return self._socket  # type: ignore[return-value]

    def _spawn_locked(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="mathbench-sandbox-")  # 0700: only the caller's user gets in
        self._socket = os.path.join(self._dir, "pool.sock")
        view_root = os.path.join(self._dir, "root")
        os.mkdir(view_root)
        cfg = {
            "parent_pid": os.getpid(), "size": self.size, "preload": list(self.preload), "mem_mb": self.mem_mb,
            "fsize_mb": self.fsize_mb, "nproc": self.nproc, "max_output": self.max_output,
            "drop_to": self.drop_to, "scratch_root": self.scratch_root, "socket": self._socket,
            "protections": list(self.wanted), "hide": hidden_paths(self.hide), "view_root": view_root,
        }
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
        }
        errlog = open(os.path.join(self._dir, "server.log"), "wb")
        started = threading.Event()
        box: dict = {}

        def keeper() -> None:
            # The server's parent-death signal fires when the *thread* that forked it ends, so fork it from
            # a thread that lives exactly as long as the server does.
            try:
                box["proc"] = subprocess.Popen(
                    [sys.executable, "-I", str(_WORKER), json.dumps(cfg)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, env=env, cwd=self._dir,
                    close_fds=True,
                )
            except BaseException as exc:  # noqa: BLE001
                box["error"] = exc
                started.set()
                return
            started.set()
            box["proc"].wait()

        threading.Thread(target=keeper, name="sandbox-keeper", daemon=True).start()
        started.wait()
        errlog.close()
        if "error" in box:
            raise SandboxError(f"cannot start the sandbox server: {box['error']}")
        proc: subprocess.Popen = box["proc"]
        line = proc.stdout.readline().decode(errors="replace")  # type: ignore[union-attr]
        if not line.startswith("ready"):
            proc.kill()
            log = Path(self._dir, "server.log").read_text(errors="replace")[-2000:]
            raise SandboxError(f"sandbox server failed to start: {log or line!r}")
        proc.stdout.close()  # type: ignore[union-attr]
        _, pid, report = line.split(" ", 2)
        self.server_pid = int(pid)
        self.protections = json.loads(report)
        self._proc = proc

    def _stop_locked(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()  # type: ignore[union-attr]  # EOF: the server kills its blocks and exits
            except OSError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def close(self) -> None:
        """Stop the server and every block still running."""
        with self._lock:
            self._closed = True
            self._stop_locked()

    def __enter__(self) -> "SandboxPool":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- running -----------------------------------------------------------------------------

    def _request(self, code: str, timeout: float, mem_mb: int | None) -> bytes:
        req = {"code": code, "timeout": float(timeout)}
        if mem_mb:
            req["mem_mb"] = int(mem_mb)
        return _encode(req)

    def run(self, code: str, timeout: float = 10.0, *, mem_mb: int | None = None) -> ExecResult:
        """Run *code* in a fresh sandboxed process and wait for it (blocks the calling thread only)."""
        payload = self._request(code, timeout, mem_mb)
        t0 = time.monotonic()
        for attempt in range(2):
            path = self._ensure_started()
            proc = self._proc
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            unreachable = False
            try:
                try:
                    sock.connect(path)
                except OSError:
                    unreachable = True
                started = False
                if not unreachable:
                    try:
                        sock.sendall(payload)
                        started = self._wait_ack_sync(sock, proc)
                    except OSError:
                        started = False
                if not started:
                    if attempt == 0 and self._recover(proc, unreachable):
                        continue  # the server was gone before taking the block: start a new one, once
                    return _failed("sandbox server is not running", time.monotonic() - t0)
                sock.settimeout(timeout + _SAFETY_S)
                try:
                    head = _recv_exact(sock, 4)
                    (n,) = struct.unpack("!I", head)
                    return _result(json.loads(_recv_exact(sock, n)))
                except socket.timeout:
                    return _failed("sandbox supervisor did not answer", time.monotonic() - t0)
                except (EOFError, OSError):
                    return _failed("sandbox worker died while running the block", time.monotonic() - t0)
            finally:
                sock.close()
        return _failed("unreachable")  # pragma: no cover

    def _recover(self, proc, unreachable: bool) -> bool:
        """After a block was not taken: True when a retry makes sense, because the server *proc* has exited
        (a killed one takes a moment) or, alive but unreachable (its socket removed), has been stopped."""
        if proc is None:
            return True
        try:
            proc.wait(timeout=2 if unreachable else 5)
            return True
        except subprocess.TimeoutExpired:
            if not unreachable:
                return False
        with self._lock:
            if self._proc is proc:
                self._stop_locked()
        return True

    def _wait_ack_sync(self, sock: socket.socket, proc) -> bool:
        # Waiting in the server's queue has no deadline; a dead server ends the wait.
        sock.settimeout(1.0)
        while True:
            try:
                return sock.recv(1) == b"A"
            except socket.timeout:
                if proc is None or proc.poll() is not None:
                    return False

    async def arun(self, code: str, timeout: float = 10.0, *, mem_mb: int | None = None) -> ExecResult:
        """Like run(), without blocking the event loop (non-blocking socket I/O; startup in a thread)."""
        payload = self._request(code, timeout, mem_mb)
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        for attempt in range(2):
            if self._alive():
                path = self._socket
            else:
                path = await loop.run_in_executor(None, self._ensure_started)
            proc = self._proc
            writer = None
            unreachable = False
            try:
                try:
                    reader, writer = await asyncio.open_unix_connection(path)
                except OSError:
                    unreachable = True
                try:
                    started = False
                    if not unreachable:
                        writer.write(payload)
                        await writer.drain()
                        started = await self._wait_ack_async(reader, proc)
                except (OSError, asyncio.IncompleteReadError):
                    started = False
                if not started:
                    if attempt == 0 and await loop.run_in_executor(None, self._recover, proc, unreachable):
                        continue
                    return _failed("sandbox server is not running", time.monotonic() - t0)
                try:
                    head = await asyncio.wait_for(reader.readexactly(4), timeout + _SAFETY_S)
                    (n,) = struct.unpack("!I", head)
                    body = await asyncio.wait_for(reader.readexactly(n), _SAFETY_S)
                    return _result(json.loads(body))
                except asyncio.TimeoutError:
                    return _failed("sandbox supervisor did not answer", time.monotonic() - t0)
                except (asyncio.IncompleteReadError, OSError):
                    return _failed("sandbox worker died while running the block", time.monotonic() - t0)
            finally:
                if writer is not None:
                    writer.close()
        return _failed("unreachable")  # pragma: no cover

    async def _wait_ack_async(self, reader: asyncio.StreamReader, proc) -> bool:
        while True:
            try:
                return await asyncio.wait_for(reader.readexactly(1), 1.0) == b"A"
            except asyncio.TimeoutError:
                if proc is None or proc.poll() is not None:
                    return False

    def map(self, codes, timeout: float = 10.0) -> list[ExecResult]:
        """Run many blocks, *size* at a time, results in input order."""
        from concurrent.futures import ThreadPoolExecutor

        codes = list(codes)
        with ThreadPoolExecutor(max_workers=self.size) as ex:
            return list(ex.map(lambda c: self.run(c, timeout), codes))


_default: SandboxPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SandboxPool:
    """The module-level pool behind run_python (started on first use, stopped at exit)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = SandboxPool()
            atexit.register(_default.close)
        return _default


def run_python(code: str, timeout: float = 10.0) -> ExecResult:
    """Run *code* in the sandbox and return its output and status (ok | error | timeout | killed)."""
    return default_pool().run(code, timeout)


async def run_python_async(code: str, timeout: float = 10.0) -> ExecResult:
    """run_python for asyncio code: never blocks the event loop."""
    return await default_pool().arun(code, timeout)
