"""The process that runs one code block: it isolates itself ahead of time, waits for the code, runs it as `__main__`."""

from __future__ import annotations

import builtins
import io
import linecache
import os
import resource
import signal
import socket
import stat
import sys
import tempfile
import traceback

from . import namespaces as ns
from .procs import PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, close_fds_except, prctl, user_process_count
from .wire import recv_msg, send_msg

NOBODY = 65534
CODE_FILENAME = "temp.py"  # what the seed's `python3 temp.py` showed in tracebacks


def world_readable_dir(path: str) -> bool:
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


def map_unreadable_paths() -> list[int]:
    """Point sys.path (and loaded packages' __path__) at /proc/self/fd/N for dirs `nobody` cannot reach.

    The interpreter may live under a private home (e.g. /root/.pyenv); an open directory fd kept in the
    runner lets the unprivileged runner import from there without opening the home to anyone else.
    """
    mapping: dict[str, str] = {}
    fds: list[int] = []
    for entry in list(sys.path):
        if not entry or not os.path.isdir(entry) or world_readable_dir(entry):
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


def run_code(code: str, scratch: str) -> int:
    """Execute *code* as `__main__`, print a traceback tail on error, return the exit code."""
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


BLOCK_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
    "MPLBACKEND": "Agg",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
# Namespaces a block's process enters itself (its PID namespace is made by the server before the fork).
OWN_NAMESPACES = (("network", ns.CLONE_NEWNET), ("ipc", ns.CLONE_NEWIPC), ("mounts", ns.CLONE_NEWNS))


class _Steps:
    """Runs isolation steps, noting each success or refusal; a refusal of a required step is fatal."""

    def __init__(self, required: set[str]):
        self.required = required
        self.done: dict[str, str | bool] = {}

    def __call__(self, name: str, fn, *args) -> bool:
        try:
            fn(*args)
        except OSError as exc:
            self.done[name] = exc.strerror or str(exc)
            if name in self.required:
                raise
            return False
        self.done[name] = True
        return True


def _join_groups(fds: list[int]) -> None:
    if not fds:
        raise OSError(0, "no cgroup")
    for fd in fds:
        os.write(fd, b"0")


def _drop_to(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def prepare_and_run(cfg: dict, prep: dict, ctl: socket.socket, out_w: int, err_w: int) -> None:
    """Child of the server: isolate and limit itself, tell the server what holds, wait for a block, run it.

    *prep*: the slot's uid, cgroup join descriptors, fallback scratch folder and the protections required
    (every one the first block of this server had). Never returns.
    """
    steps = _Steps(set(prep["require"]))
    rc = 126
    try:
        os.setsid()
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        keep = [ctl.fileno(), *prep["cgroup_fds"], *cfg.get("keep_fds", ())]
        close_fds_except(keep)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        steps.done["pid"] = os.getpid() == 1 or prep.get("pid_error") or "not PID 1"
        wanted = set(prep["want"])
        for name, flag in OWN_NAMESPACES:
            if name in wanted:
                steps(name, ns.unshare, flag)
        uid = prep["uid"]
        tmp_bytes = int(cfg["mem_mb"]) * 1024 * 1024
        scratch = prep["scratch"]
        if steps.done.get("mounts") is True:
            if "tmp" in wanted and steps("tmp", ns.private_tmp, tmp_bytes, uid):
                scratch = "/tmp"
            pid_ns = steps.done["pid"] is True
            if "pid" in wanted and not steps("proc", ns.own_proc, pid_ns) and pid_ns:
                steps.done["pid"] = f"no /proc of its own: {steps.done['proc']}"
        elif steps.done["pid"] is True:
            steps.done["pid"] = "no mount namespace for a /proc of its own"
        if "cgroup" in wanted:
            steps("cgroup", _join_groups, prep["cgroup_fds"])
        for fd in prep["cgroup_fds"]:
            os.close(fd)
        os.chdir(scratch)
        if uid is not None:
            steps("uid", _drop_to, uid, prep["gid"])
            # Lets the block read its own /proc entries (and /proc/self/fd/N, where unreadable import dirs are mapped).
            prctl(PR_SET_DUMPABLE, 1)
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a uid change clears it
        if "no-new-privs" in wanted:
            steps("no-new-privs", prctl, PR_SET_NO_NEW_PRIVS, 1)
        os.umask(0o077)
        os.environ.clear()
        os.environ.update(BLOCK_ENV, HOME=scratch, TMPDIR=scratch, MPLCONFIGDIR=scratch)
        tempfile.tempdir = scratch
        missing = [name for name in steps.required if steps.done.get(name) is not True]
        if missing:
            raise OSError(0, "required protections failed: " + ", ".join(f"{m} ({steps.done.get(m)})" for m in missing))
        send_msg(ctl, {"steps": steps.done})
        try:
            req = recv_msg(ctl)
        except (EOFError, OSError):
            os._exit(0)  # the server went away or retired this process
        _set_limits(cfg, req, nproc_others=uid is None)
        rc = run_code(req["code"], scratch)
        _report_exit(ctl, rc)
    except BaseException:  # noqa: BLE001 - setup failed: tell the server, which logs it and retries
        try:
            send_msg(ctl, {"steps": steps.done, "error": traceback.format_exc(limit=4)})
        except BaseException:
            pass
    os._exit(rc)


def _report_exit(ctl: socket.socket, rc: int) -> None:
    """Close our output and tell the server our exit code, so it can answer before this process is torn down.

    Model code could send such a message itself: it would only misreport its own block's exit code.
    """
    for fd in (1, 2):
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        send_msg(ctl, {"rc": rc})
    except OSError:
        pass


def _set_limits(cfg: dict, req: dict, nproc_others: bool) -> None:
    """Per-process limits for the block (lowering a limit needs no privilege)."""
    timeout = float(req["timeout"])
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime + timeout) + 2
    mem = int(req.get("mem_mb") or cfg["mem_mb"]) * 1024 * 1024
    fsize = int(req.get("fsize_mb") or cfg["fsize_mb"]) * 1024 * 1024
    nproc = int(cfg["nproc"])
    if nproc_others:
        # Not root and no uid of its own: NPROC counts all of this user's processes, so allow room above them.
        nproc += user_process_count(os.getuid())
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
