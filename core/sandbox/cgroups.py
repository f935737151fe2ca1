"""One memory limit and one process cap for a whole code block: a cgroup per concurrent slot (v2, else v1).

Set up by the fork server while it still sees /sys/fs/cgroup; afterwards only open descriptors are used,
so the groups keep working inside the server's own view of the filesystem.
"""

from __future__ import annotations

import os
import signal

CGROUP_ROOT = "/sys/fs/cgroup"
PREFIX = "mathbench-sbx-"


class CgroupUnavailable(Exception):
    """No cgroup with a memory controller could be made here (the reason is the message)."""


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under "" its v2 path."""
    out = {}
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            out[c] = path
    return out


def _v2_mount() -> str | None:
    """Where the cgroup v2 hierarchy is mounted (pure v2 at /sys/fs/cgroup, hybrid at .../unified)."""
    try:
        for line in _read("/proc/self/mountinfo").splitlines():
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] == "cgroup2":
                return left.split()[4]
    except OSError:
        pass
    return None


def _rmdir_quiet(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


def _remove_stale(parent: str) -> None:
    """Remove groups left by servers that died (SIGKILL) before removing their own."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith(PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(PREFIX):]
        if pid.isdigit() and os.path.exists(f"/proc/{pid}"):
            continue
        _remove_group(os.path.join(parent, name))


def _remove_group(base: str) -> None:
    """Remove a server's group and its slot groups (empty ones only)."""
    try:
        for name in os.listdir(base):
            if os.path.isdir(os.path.join(base, name)):
                _rmdir_quiet(os.path.join(base, name))
    except OSError:
        pass
    _rmdir_quiet(base)


class SlotGroups:
    """A cgroup per slot holding that slot's block; descriptors for joining, limiting and counting OOM kills."""

    def __init__(self, version: int, bases: list[str], slots: list[dict[str, str]]):
        self.version = version
        self.limits_memory = False
        self.caps_processes = False
        self.bases = bases  # one per hierarchy (v1: memory and pids)
        self.slots = slots  # per slot: file name -> path
        # Directory descriptors: the groups are removed and listed after the server no longer sees their paths.
        self._dirs = [(os.open(os.path.dirname(b), os.O_RDONLY | os.O_DIRECTORY),
                       os.open(b, os.O_RDONLY | os.O_DIRECTORY), os.path.basename(b)) for b in bases]
        self._fds: list[dict[str, int]] = []
        for files in slots:
            self._fds.append({k: os.open(p, os.O_RDONLY if k == "events" else os.O_WRONLY)
                              for k, p in files.items()})

    @property
    def description(self) -> str:
        return f"cgroup v{self.version}"

    @classmethod
    def create(cls, size: int, mem_bytes: int | None, pids_max: int | None) -> "SlotGroups":
        """Make the groups (v2 first, then v1) with a memory limit and a process cap per slot (None: none);
        CgroupUnavailable says why neither works."""
        reasons = []
        for make in (cls._create_v2, cls._create_v1):
            try:
                groups = make(size, pids_max is not None)
            except (CgroupUnavailable, OSError) as exc:
                reasons.append(str(exc))
                continue
            groups.limits_memory = mem_bytes is not None
            groups.caps_processes = pids_max is not None and all("pids" in f for f in groups._fds)
            try:
                for slot in range(size):
                    if mem_bytes is not None:
                        groups.set_memory(slot, mem_bytes)
                    if groups.caps_processes:
                        groups.set_pids(slot, pids_max)
            except OSError as exc:
                groups.remove()
                reasons.append(f"v{groups.version}: cannot set limits ({exc.strerror or exc})")
                continue
            return groups
        raise CgroupUnavailable("; ".join(reasons))

    @classmethod
    def _create_v2(cls, size: int, pids: bool) -> "SlotGroups":
        mnt = _v2_mount()
        if not mnt:
            raise CgroupUnavailable("v2 not mounted")
        own = _own_paths().get("", "/")
        tried = []
        # Our own group first (a delegated subtree), then the hierarchy's root (root only).
        for parent in dict.fromkeys([os.path.join(mnt, own.lstrip("/")).rstrip("/") or mnt, mnt]):
            if "memory" not in _read(os.path.join(parent, "cgroup.controllers")).split():
                tried.append("no memory controller")
                continue
            _remove_stale(parent)
            try:
                if not {"memory", "pids"} <= set(_read(os.path.join(parent, "cgroup.subtree_control")).split()):
                    _write(os.path.join(parent, "cgroup.subtree_control"), "+memory +pids")
                base = os.path.join(parent, f"{PREFIX}{os.getpid()}")
                os.mkdir(base)
            except OSError as exc:
                tried.append(f"{exc.strerror or exc}")
                continue
            try:
                _write(os.path.join(base, "cgroup.subtree_control"), "+memory +pids")
                slots = []
                for i in range(size):
                    d = os.path.join(base, f"slot{i}")
                    os.mkdir(d)
                    files = {"procs": "cgroup.procs", "memory": "memory.max", "pids": "pids.max",
                             "events": "memory.events", "kill": "cgroup.kill", "swap": "memory.swap.max"}
                    slots.append({k: os.path.join(d, f) for k, f in files.items() if os.path.exists(os.path.join(d, f))})
                return cls(2, [base], slots)
            except OSError as exc:
                _remove_group(base)
                tried.append(f"{exc.strerror or exc}")
        raise CgroupUnavailable("v2: " + ", ".join(dict.fromkeys(tried)))

    @classmethod
    def _create_v1(cls, size: int, pids: bool) -> "SlotGroups":
        own = _own_paths()
        if "memory" not in own or not os.path.isdir(os.path.join(CGROUP_ROOT, "memory")):
            raise CgroupUnavailable("v1: no memory controller mounted")
        bases: list[str] = []
        ctls: list[str] = []
        try:
            for ctl in ("memory", "pids") if pids else ("memory",):
                if ctl not in own:
                    continue
                parent = os.path.join(CGROUP_ROOT, ctl, own[ctl].lstrip("/")).rstrip("/")
                _remove_stale(parent)
                base = os.path.join(parent, f"{PREFIX}{os.getpid()}")
                os.mkdir(base)
                bases.append(base)
                ctls.append(ctl)
            slots = []
            for i in range(size):
                files: dict[str, str] = {}
                for base, ctl in zip(bases, ctls):
                    d = os.path.join(base, f"slot{i}")
                    os.mkdir(d)
                    files[f"procs-{ctl}"] = os.path.join(d, "cgroup.procs")
                    if ctl == "memory":
                        files["memory"] = os.path.join(d, "memory.limit_in_bytes")
                        files["events"] = os.path.join(d, "memory.oom_control")
                        if os.path.exists(os.path.join(d, "memory.memsw.limit_in_bytes")):
                            files["swap"] = os.path.join(d, "memory.memsw.limit_in_bytes")
                    else:
                        files["pids"] = os.path.join(d, "pids.max")
                slots.append(files)
            return cls(1, bases, slots)
        except OSError as exc:
            for base in bases:
                _remove_group(base)
            raise CgroupUnavailable(f"v1: {exc.strerror or exc}") from None

    # -- used by the server and by a block's process -------------------------------------------

    def join_fds(self, slot: int) -> list[int]:
        """Descriptors a process writes "0" to, to enter the slot's groups."""
        return [fd for k, fd in self._fds[slot].items() if k.startswith("procs")]

    def set_memory(self, slot: int, mem_bytes: int) -> None:
        fds = self._fds[slot]
        if self.version == 2:
            os.write(fds["memory"], str(mem_bytes).encode())
            if "swap" in fds:
                os.write(fds["swap"], b"0")
            return
        # v1: the memory+swap limit may never be below the memory limit, so order the two writes.
        first, second = ("swap", "memory") if "swap" in fds else ("memory", None)
        for key in (first, second, first):
            if key:
                try:
                    os.write(fds[key], str(mem_bytes).encode())
                except OSError:
                    if key == first and second is None:
                        raise

    def set_pids(self, slot: int, pids_max: int) -> None:
        if "pids" in self._fds[slot]:
            os.write(self._fds[slot]["pids"], str(pids_max).encode())

    def oom_kills(self, slot: int) -> int:
        """How many processes the slot's memory limit has killed so far."""
        fd = self._fds[slot].get("events")
        if fd is None:
            return 0
        try:
            text = os.pread(fd, 4096, 0).decode()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def kill(self, slot: int) -> None:
        """SIGKILL every process in the slot's group (a block without a PID namespace of its own)."""
        fds = self._fds[slot]
        if "kill" in fds:
            try:
                os.write(fds["kill"], b"1")
                return
            except OSError:
                pass
        for pid in self.members(slot):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def members(self, slot: int) -> list[int]:
        """The pids in the slot's groups."""
        pids: list[int] = []
        for _, base_fd, _ in self._dirs:
            try:
                fd = os.open(f"slot{slot}/cgroup.procs", os.O_RDONLY, dir_fd=base_fd)
                try:
                    pids += [int(p) for p in os.read(fd, 1 << 20).split()]
                finally:
                    os.close(fd)
            except OSError:
                continue
        return pids

    def remove(self) -> None:
        """Close the descriptors and remove the groups (an empty group only: a live process keeps it)."""
        for fds in self._fds:
            for fd in fds.values():
                _close(fd)
        self._fds = []
        for parent_fd, base_fd, name in self._dirs:
            for i in range(len(self.slots)):
                try:
                    os.rmdir(f"slot{i}", dir_fd=base_fd)
                except OSError:
                    pass
            try:
                os.rmdir(name, dir_fd=parent_fd)
            except OSError:
                pass
            _close(base_fd)
            _close(parent_fd)
        self._dirs = []


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
