"""A job's whole process tree: a cgroup of its own where the kernel gives one, else the runner's descendants.

A cgroup holds every process the job starts, also those that call setsid or outlive their parent,
and `cgroup.kill` ends them all at once. Without one (no cgroup v2, not allowed), the runner is a
child subreaper, so orphans are re-parented to it and its descendants are still the whole tree.
Also here: who holds a TCP port (to name it before a server launch fails on it).
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path

from mathbench.core.jobs.procs import proc_start_ticks

CGROUP_PARENT = "mathbench-jobs"


def cgroup2_root() -> Path | None:
    """The mount point of the cgroup v2 hierarchy (pure or hybrid), or None."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "cgroup2":
            return Path(parts[1])
    return None


def make_cgroup(name_hint: str) -> Path | None:
    """A new empty cgroup for one job (None where cgroups cannot be made: not root, no v2, read-only).

    $MATHBENCH_NO_CGROUP=1 turns them off (the runner's descendants are followed instead).
    """
    if os.environ.get("MATHBENCH_NO_CGROUP"):
        return None
    root = cgroup2_root()
    if root is None:
        return None
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name_hint)[:60]
    path = root / CGROUP_PARENT / f"{safe}-{secrets.token_hex(4)}"
    try:
        path.mkdir(parents=True)
    except OSError:
        return None
    if not (path / "cgroup.procs").exists():
        return None
    return path


def join_cgroup(path: str | Path) -> None:
    """Move the calling process into *path* (called in the job's child before exec)."""
    with open(Path(path) / "cgroup.procs", "w") as fh:
        fh.write(str(os.getpid()))


def cgroup_pids(path: str | Path | None) -> list[int]:
    """The pids in a job's cgroup (empty when it is gone or unreadable)."""
    if not path:
        return []
    try:
        return [int(x) for x in (Path(path) / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def remove_cgroup(path: str | Path | None) -> None:
    """Remove an emptied job cgroup (best effort)."""
    if path:
        try:
            os.rmdir(path)
        except OSError:
            pass


def _proc_stats():
    """(pid, state, ppid, pgid) of every process, read from /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for name in entries:
        if not name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{name}/stat").read_bytes().decode("ascii", "replace")
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2:].split()
        if len(fields) > 2:
            yield int(name), fields[0], int(fields[1]), int(fields[2])


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for pid, state, ppid, _pgid in _proc_stats():
        if state not in ("Z", "X"):
            kids.setdefault(ppid, []).append(pid)
    return kids


def group_members(pgid: int) -> list[int]:
    """The live processes of process group *pgid*."""
    return [pid for pid, state, _ppid, group in _proc_stats() if group == pgid and state not in ("Z", "X")]


def descendants(pid: int) -> list[int]:
    """Every live descendant of *pid* (children first), read from /proc."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_pids(*, cgroup: str | Path | None, runner_pid: int | None, runner_start: int | None) -> list[int]:
    """The job's live processes: its cgroup's members, else the runner's descendants (runner checked by start time)."""
    pids = cgroup_pids(cgroup)
    if pids or (cgroup and Path(cgroup).is_dir()):
        return pids
    if runner_pid and runner_start is not None and proc_start_ticks(runner_pid) == runner_start:
        return descendants(runner_pid)
    return []


def signal_pids(pids: list[int], signum: int) -> int:
    """Send *signum* to each pid; how many were signalled."""
    n = 0
    for pid in pids:
        try:
            os.kill(pid, signum)
            n += 1
        except (ProcessLookupError, PermissionError):
            pass
    return n


def kill_cgroup(path: str | Path | None) -> bool:
    """SIGKILL every process of the cgroup at once (`cgroup.kill`, else one by one); False without one."""
    if not path or not Path(path).is_dir():
        return False
    try:
        (Path(path) / "cgroup.kill").write_text("1")
        return True
    except OSError:
        signal_pids(cgroup_pids(path), signal.SIGKILL)
        return True


def wait_empty(path: str | Path | None, timeout: float) -> bool:
    """Wait until the cgroup has no process left (True) or *timeout* s passed."""
    deadline = time.monotonic() + timeout
    while cgroup_pids(path):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


# ---------------------------------------------------------------- who holds a port


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10:
                continue
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    return inodes


def port_holders(port: int) -> list[int]:
    """The pids with a socket listening on TCP *port* (any address); empty when none or not visible to us."""
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    wanted = {f"socket:[{i}]" for i in inodes}
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fd_dir = f"/proc/{name}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in wanted:
                    found.append(int(name))
                    break
            except OSError:
                continue
    return sorted(found)


def port_listening(port: int) -> bool:
    """True when some socket listens on TCP *port* on this machine."""
    return bool(_listening_inodes(port))


def describe_pid(pid: int) -> str:
    """`pid 123 (vllm serve /m --port 8000)`, for messages."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        cmd = ""
    return f"pid {pid} ({cmd[:120]})" if cmd else f"pid {pid}"
