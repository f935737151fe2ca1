"""Linux namespaces for the sandbox: the fork server's read-only view of the filesystem and each block's own namespaces.

Standard library only (ctypes on libc): the fork server imports it before any block exists.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal

from .procs import PR_SET_PDEATHSIG, prctl

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
# statvfs f_flag bits that a bind remount must keep (the kernel refuses to drop locked ones in a user namespace).
_KEEP_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
               (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "ppc64le": 203, "ppc64": 203,
                   "s390x": 217, "i686": 217, "i386": 217}
# Top-level folders of the system a block may read: programs, libraries and configuration, never user data.
SYSTEM_DIRS = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "nix")
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def unshare(flags: int) -> None:
    """unshare(2): move this process into new namespaces (CLONE_NEWPID: its next child's)."""
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    """setns(2): join the namespace open at *fd*."""
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2)."""
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def umount(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_libc.umount2(_b(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2) (glibc has no wrapper)."""
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(38, f"pivot_root: unknown system call number on {platform.machine()}")
    _check(int(_libc.syscall(number, _b(new_root), _b(put_old))), "pivot_root")


def enter_user_namespace() -> str:
    """Not root: become root of a new user namespace, as PID 1 of a new PID namespace it owns.

    The process that called this stays outside, waiting, and exits with the inner one's status; the inner
    one (the server from then on) may make mount, network and PID namespaces. Returns "entered", or why not.
    """
    uid, gid = os.getuid(), os.getgid()
    try:
        unshare(CLONE_NEWUSER)
    except OSError as exc:
        return f"refused ({exc.strerror or exc})"
    write_id_maps(uid, gid)
    unshare(CLONE_NEWPID)
    inner = os.fork()
    if inner:
        signal.signal(signal.SIGTERM, lambda *_: os.kill(inner, signal.SIGTERM))
        while True:
            try:
                _, status = os.waitpid(inner, 0)
                break
            except InterruptedError:
                continue
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    return "entered"


def write_id_maps(uid: int, gid: int) -> None:
    """Map root inside a fresh user namespace to *uid*/*gid* outside (the only mapping an unprivileged user may write)."""
    with open("/proc/self/setgroups", "w") as fh:
        fh.write("deny")
    with open("/proc/self/uid_map", "w") as fh:
        fh.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as fh:
        fh.write(f"0 {gid} 1")


def bind_readonly(source: str, target: str) -> None:
    """Bind *source* at *target*, read-only, without setuid programs or device files."""
    mount(source, target, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    st = os.statvfs(source)
    for st_flag, ms_flag in _KEEP_FLAGS:
        if st.f_flag & st_flag:
            flags |= ms_flag
    mount(None, target, None, flags)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def plan_binds(needed, candidates, hidden) -> tuple[list[str], list[str]]:
    """The folders to show read-only beside the system ones, and the hidden folders to cover inside them.

    *needed* (the interpreter's prefixes) are shown whole; an import-path *candidate* is shown unless it
    would reveal a *hidden* folder (project, home, workspace); a hidden folder inside a shown one is covered
    by an empty file system unless the interpreter needs what lies below it. Nothing one level below /
    is shown outside the system folders.
    """
    hidden = {os.path.abspath(h) for h in hidden if h}
    needed = {os.path.abspath(n) for n in needed if n and os.path.isdir(n)}
    wanted = needed | {os.path.abspath(c) for c in candidates
                       if c and os.path.isdir(c) and not any(_under(h, os.path.abspath(c)) for h in hidden)}
    system = ["/" + d for d in SYSTEM_DIRS if os.path.isdir("/" + d) and not os.path.islink("/" + d)]
    shown: list[str] = []
    for cand in sorted(wanted, key=len):
        parts = [p for p in cand.split("/") if p]
        if len(parts) < 2 or any(_under(cand, s) for s in system + shown):
            continue
        shown.append(cand)
    covers: list[str] = []
    for h in sorted(hidden, key=len):
        if (os.path.isdir(h) and any(_under(h, b) for b in system + shown)
                and not any(_under(n, h) for n in list(needed) + system) and not any(_under(h, c) for c in covers)):
            covers.append(h)
    return shown, covers


def _mkdirs(root: str, path: str) -> str:
    target = root + path
    os.makedirs(target, mode=0o755, exist_ok=True)
    return target


def build_view(root: str, shown: list[str], covers: list[str]) -> None:
    """Enter a new mount namespace whose root is a fresh read-only file system holding only the system folders,
    *shown* (read-only), an empty /tmp and /dev/shm, a minimal /dev and /proc; everything else is absent."""
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("mathbench-sandbox", root, "tmpfs", MS_NOSUID, "mode=0755,size=1m,nr_inodes=4096")
    for top in SYSTEM_DIRS:
        src = "/" + top
        if os.path.islink(src):
            os.symlink(os.readlink(src), root + src)
        elif os.path.isdir(src):
            bind_readonly(src, _mkdirs(root, src))
    for path in shown:
        bind_readonly(path, _mkdirs(root, path))
    for path in covers:
        mount("hidden", root + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0000,size=4k,nr_inodes=1")
    dev = _mkdirs(root, "/dev")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            open(f"{dev}/{name}", "w").close()
            mount("/dev/" + name, f"{dev}/{name}", None, MS_BIND)
    for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                       ("stderr", "/proc/self/fd/2")):
        os.symlink(dest, f"{dev}/{name}")
    os.mkdir(dev + "/shm", 0o1777)
    os.chmod(dev + "/shm", 0o1777)
    os.mkdir(root + "/tmp", 0o1777)
    os.chmod(root + "/tmp", 0o1777)
    os.mkdir(root + "/proc", 0o555)
    try:
        mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        mount("/proc", root + "/proc", None, MS_BIND | MS_REC)  # a user namespace may not mount a new one
    os.mkdir(root + "/.old")
    os.chdir(root)
    pivot_root(".", ".old")
    os.chdir("/")
    umount("/.old", MNT_DETACH)
    os.rmdir("/.old")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID)


def private_tmp(tmp_bytes: int, uid: int | None) -> None:
    """In a block's own mount namespace: a fresh /tmp (its scratch folder) and /dev/shm, gone with the block."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here may reach the server's namespace
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    size = max(1 << 20, tmp_bytes)
    mount("scratch", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0700,size={size},nr_inodes=65536{owner}")
    mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size},nr_inodes=4096")


def own_proc(pid_namespace: bool) -> None:
    """A /proc showing only the block's processes: its PID namespace's, else (hidepid) its own uid's."""
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None if pid_namespace else "hidepid=2")
