"""The process that runs one code block: limits, unprivileged uid, scrubbed environment, then the code as `__main__`."""

from __future__ import annotations

import builtins
import io
import linecache
import os
import resource
import signal
import stat
import sys
import tempfile
import traceback

from .procs import PR_SET_DUMPABLE, PR_SET_PDEATHSIG, close_fds_except, prctl, user_process_count

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


def run_block(req: dict, scratch: str, out_w: int, err_w: int, cfg: dict) -> None:
    """Child of the supervisor: isolate, limit, run. Never returns."""
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        close_fds_except(cfg.get("keep_fds", ()))
        timeout = float(req["timeout"])
        cpu = int(timeout) + 2
        mem = int(req.get("mem_mb") or cfg["mem_mb"]) * 1024 * 1024
        fsize = int(req.get("fsize_mb") or cfg["fsize_mb"]) * 1024 * 1024
        nproc = int(cfg["nproc"])
        drop = cfg.get("uid")
        if drop is None:
            # Not root: NPROC counts all of this user's processes, so allow room above them.
            nproc += user_process_count(os.getuid())
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
            prctl(PR_SET_DUMPABLE, 1)
        # Set after the uid change, which clears it.
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
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
        rc = run_code(req["code"], scratch)
    except BaseException:  # noqa: BLE001 - setup failed; report on the captured stderr
        try:
            os.write(2, ("sandbox setup failed:\n" + traceback.format_exc()).encode())
        except BaseException:
            pass
        rc = 126
    os._exit(rc)
