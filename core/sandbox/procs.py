"""Process plumbing for the fork server: prctl, walking and killing a process tree, closing descriptors."""

from __future__ import annotations

import ctypes
import os
import signal
import stat
import time

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

libc = ctypes.CDLL(None, use_errno=True)


def prctl(option: int, value: int) -> None:
    """prctl(2) with one argument; OSError on failure."""
    if libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def children(pid: int) -> list[int]:
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


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for kid in children(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_tree(pgid: int | None, budget: float = 3.0) -> None:
    """SIGKILL the runner's group and every other descendant of this (subreaper) process."""
    if pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    end = time.monotonic() + budget
    me = os.getpid()
    while time.monotonic() < end:
        reap_all()
        kids = descendants(me)
        if not kids:
            return
        for kid in kids:
            try:
                os.kill(kid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def wake_pipe() -> tuple[int, int]:
    """A non-blocking pipe that signals are written to (signal.set_wakeup_fd), so a poll loop wakes for them."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    return wake_r, wake_w


def drain(fd: int) -> None:
    """Read a non-blocking pipe empty."""
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def user_process_count(uid: int) -> int:
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def close_fds_except(keep) -> None:
    lo = 3
    for fd in sorted(set(keep)):
        if fd >= lo:
            os.closerange(lo, fd)
            lo = fd + 1
    os.closerange(lo, 65536)


def remove_tree(path: str) -> None:
    """Delete *path* and everything below it without following links, iteratively (no depth limit); never raises."""
    try:
        top = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        remove_entry(top, os.path.basename(path))
    except BaseException:  # noqa: BLE001 - cleanup must never take the server down
        pass
    finally:
        os.close(top)


def remove_entry(parent_fd: int, name: str) -> None:
    """Delete the file or tree *name* in the folder open at *parent_fd* (see remove_tree)."""
    try:
        os.unlink(name, dir_fd=parent_fd)
        return
    except IsADirectoryError:
        pass
    except OSError:
        pass
    # A directory: walk down with an explicit stack of (fd, name-in-parent, parent fd).
    stack: list[tuple[int, int, str]] = []
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    except OSError:
        return
    stack.append((fd, parent_fd, name))
    while stack:
        fd, pfd, dname = stack[-1]
        descended = False
        try:
            entries = list(os.scandir(fd))
        except OSError:
            entries = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                try:
                    os.chmod(entry.name, stat.S_IRWXU, dir_fd=fd)  # a block may leave folders it cannot enter
                except OSError:
                    pass
                try:
                    sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError:
                    continue
                stack.append((sub, fd, entry.name))
                descended = True
                break
            try:
                os.unlink(entry.name, dir_fd=fd)
            except OSError:
                pass
        if descended:
            continue
        stack.pop()
        os.close(fd)
        try:
            os.rmdir(dname, dir_fd=pfd)
        except OSError:
            pass
