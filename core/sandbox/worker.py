"""The sandbox fork-server: preloads heavy modules once, then forks a fresh, limited process per code block.

Run as a script by core.sandbox (never imported by it), so it holds no state of the caller.
Three levels of processes:
  server      single-threaded; accepts one Unix-socket connection per block and forks a supervisor.
  supervisor  reads the request, makes a scratch dir, forks the runner, reads its output with a cap,
              enforces the wall clock, kills every leftover descendant, answers with a JSON result.
  runner      own session, rlimits, scrubbed env, unprivileged user when started as root; runs the code.
This file must import nothing from the project: the runner's memory is the model code's playground.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import builtins
import io
import linecache
import stat
import traceback

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
NOBODY = 65534
# Cheap stdlib modules PoT code imports often; loaded once here, they cost a block nothing.
STDLIB_PRELOAD = ("fractions", "decimal", "itertools", "functools", "collections", "statistics", "random",
                  "re", "cmath", "datetime", "string", "heapq", "bisect", "operator", "copy", "json")
CODE_FILENAME = "temp.py"  # what the seed's `python3 temp.py` showed in tracebacks

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _send_msg(sock: socket.socket, obj: dict) -> None:
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    sock.sendall(struct.pack("!I", len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return bytes(buf)


def _recv_msg(sock: socket.socket) -> dict:
    (n,) = struct.unpack("!I", _recv_exact(sock, 4))
    return json.loads(_recv_exact(sock, n).decode("utf-8", "surrogatepass"))


class _Capture:
    """Keeps the first and last *cap/2* bytes of a stream, counting what falls in between."""

    def __init__(self, cap: int):
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > 2 * self.tail_cap + 65536:
                del self.tail[: len(self.tail) - self.tail_cap]

    def text(self) -> tuple[str, bool]:
        tail = self.tail[-self.tail_cap:] if self.tail_cap else b""
        dropped = self.total - len(self.head) - len(tail)
        if dropped <= 0:
            return (bytes(self.head) + bytes(tail)).decode("utf-8", "replace"), False
        mark = f"\n... [{dropped} bytes of output truncated] ...\n"
        return self.head.decode("utf-8", "replace") + mark + bytes(tail).decode("utf-8", "replace"), True


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(x) for x in fh.read().split())
        except OSError:
            pass
    return kids


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for kid in _children(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_tree(pgid: int | None, budget: float = 3.0) -> None:
    """SIGKILL the runner's group and every other descendant of this (subreaper) process."""
    if pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    end = time.monotonic() + budget
    me = os.getpid()
    while time.monotonic() < end:
        _reap_all()
        kids = _descendants(me)
        if not kids:
            return
        for kid in kids:
            try:
                os.kill(kid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def _user_process_count(uid: int) -> int:
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def _close_fds_except(keep) -> None:
    lo = 3
    for fd in sorted(set(keep)):
        if fd >= lo:
            os.closerange(lo, fd)
            lo = fd + 1
    os.closerange(lo, 65536)


def _world_readable_dir(path: str) -> bool:
    """True when an unprivileged user can list *path* (every ancestor searchable by others)."""
    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except OSError:
        return True  # absent: nothing to map
    if not (st.st_mode & stat.S_IROTH and st.st_mode & stat.S_IXOTH):
        return False
    parent = os.path.dirname(path)
    while True:
        try:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        if parent == os.path.dirname(parent):
            return True
        parent = os.path.dirname(parent)


def _map_unreadable_paths() -> list[int]:
    """Point sys.path (and loaded packages' __path__) at /proc/self/fd/N for dirs `nobody` cannot reach.

    The interpreter may live under a private home (e.g. /root/.pyenv); an open directory fd kept in the
    runner lets the unprivileged runner import from there without opening the home to anyone else.
    """
    mapping: dict[str, str] = {}
    fds: list[int] = []
    for entry in list(sys.path):
        if not entry or not os.path.isdir(entry) or _world_readable_dir(entry):
            continue
        fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
        os.set_inheritable(fd, True)
        fds.append(fd)
        mapping[os.path.abspath(entry)] = f"/proc/self/fd/{fd}"
    if not mapping:
        return fds

    def remap(p: str) -> str:
        for src, dst in mapping.items():
            if p == src or p.startswith(src + os.sep):
                return dst + p[len(src):]
        return p

    sys.path[:] = [remap(p) for p in sys.path]
    for mod in list(sys.modules.values()):
        path = getattr(mod, "__path__", None)
        if isinstance(path, list):
            path[:] = [remap(p) for p in path]
    sys.path_importer_cache.clear()
    return fds


def _run_code(code: str, scratch: str) -> int:
    """In the runner: execute *code* as `__main__`, print a traceback tail on error, return the exit code."""
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace")
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    sys.argv = [CODE_FILENAME]
    sys.path.insert(0, scratch)
    if "numpy" in sys.modules:
        # A forked child inherits the parent's numpy RNG state; a fresh python3 would not.
        sys.modules["numpy"].random.seed(int.from_bytes(os.urandom(4), "little"))
    lines = code.splitlines(keepends=True)
    linecache.cache[CODE_FILENAME] = (len(code), None, lines, CODE_FILENAME)
    main_globals = {"__name__": "__main__", "__builtins__": builtins, "__file__": CODE_FILENAME}
    rc = 0
    try:
        exec(compile(code, CODE_FILENAME, "exec"), main_globals)
    except SystemExit as exc:
        if exc.code is None:
            rc = 0
        elif isinstance(exc.code, int):
            rc = exc.code & 0xFF
        else:
            print(exc.code, file=sys.stderr)
            rc = 1
    except BaseException as exc:  # noqa: BLE001 - the model's error is the result
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        try:
            sys.stdout.flush()
        except BaseException:
            pass
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
        rc = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return rc


def _runner(req: dict, scratch: str, out_w: int, err_w: int, cfg: dict) -> None:
    """Child of the supervisor: isolate, limit, run. Never returns."""
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        _close_fds_except(cfg.get("keep_fds", ()))
        timeout = float(req["timeout"])
        cpu = int(timeout) + 2
        mem = int(req.get("mem_mb") or cfg["mem_mb"]) * 1024 * 1024
        fsize = int(req.get("fsize_mb") or cfg["fsize_mb"]) * 1024 * 1024
        nproc = int(cfg["nproc"])
        drop = cfg.get("uid")
        if drop is None:
            # Not root: NPROC counts all of this user's processes, so allow room above them.
            nproc += _user_process_count(os.getuid())
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.chdir(scratch)
        if drop is not None:
            os.setgroups([])
            os.setgid(drop if cfg["drop_to"] == "auto" else NOBODY)
            os.setuid(drop)
            # Lets the unprivileged runner use /proc/self/fd/N, where the unreadable sys.path dirs are mapped.
            _prctl(PR_SET_DUMPABLE, 1)
        # Set after the uid change, which clears it.
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:
            os._exit(137)
        os.umask(0o077)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": scratch,
            "TMPDIR": scratch,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": scratch,
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        os.environ.clear()
        os.environ.update(env)
        tempfile.tempdir = scratch
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        rc = _run_code(req["code"], scratch)
    except BaseException:  # noqa: BLE001 - setup failed; report on the captured stderr
        try:
            os.write(2, ("sandbox setup failed:\n" + traceback.format_exc()).encode())
        except BaseException:
            pass
        rc = 126
    os._exit(rc)


def _block_uid(cfg: dict, slot: int) -> int | None:
    """The uid a block runs as: none when not root or not dropping; with "auto" one uid per concurrent slot
    (from a range chosen by the server's pid), so blocks cannot signal, trace or starve each other."""
    if os.getuid() != 0 or cfg["drop_to"] is None:
        return None
    if cfg["drop_to"] == "auto":
        stride = max(256, cfg["size"])
        return 1_000_000 + (cfg["server_pid"] % 100_000) * stride + slot
    return int(cfg["drop_to"])


def _supervise(conn: socket.socket, cfg: dict) -> None:
    """Child of the server: run one request in a runner and answer on *conn*. Never returns."""
    scratch = None
    runner_pid = None

    def on_term(signum, frame):
        _kill_tree(runner_pid)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        os._exit(143)

    try:
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        if os.getppid() != cfg["server_pid"]:
            os._exit(1)
        req = _recv_msg(conn)
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
            _runner(req, scratch, out_w, err_w, cfg)
        os.close(out_w)
        os.close(err_w)
        conn.sendall(b"A")  # started: the caller's own safety clock begins now
        try:
            pidfd = os.pidfd_open(runner_pid)
        except (AttributeError, OSError):
            pidfd = None  # kernels before 5.3: poll for the runner's exit instead
        caps = {out_r: _Capture(cap), err_r: _Capture(cap)}
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
        _kill_tree(runner_pid)
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
        _send_msg(conn, result)
    except BaseException as exc:  # noqa: BLE001 - answer with the failure rather than a silent EOF
        try:
            _kill_tree(runner_pid)
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            _send_msg(conn, {"stdout": "", "stderr": f"[sandbox] supervisor error: {exc!r}\n", "status": "killed",
                             "duration": 0.0, "returncode": -9, "truncated": False})
        except BaseException:
            pass
        os._exit(1)
    os._exit(0)


def _remove_scratch_of(supervisor_pid: int, root: str) -> None:
    """Remove the scratch folder of a supervisor that died without cleaning up (e.g. SIGKILLed)."""
    prefix = f"mb-sbx-{supervisor_pid}-"
    try:
        names = [n for n in os.listdir(root) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def serve(cfg: dict) -> None:
    """The server loop: accept while fewer than cfg['size'] blocks run; exit when the caller goes away."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != cfg["parent_pid"]:
        sys.exit(1)
    for mod in list(cfg["preload"]) + list(STDLIB_PRELOAD):
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
    if os.getuid() == 0 and cfg["drop_to"] is not None:
        cfg["keep_fds"] = _map_unreadable_paths()
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
            _remove_scratch_of(pid, cfg["scratch_root"])
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
                _remove_scratch_of(pid, cfg["scratch_root"])
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
                cfg["uid"] = _block_uid(cfg, slot)
                _supervise(conn, cfg)
            conn.close()
            supervisors[pid] = slot


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
