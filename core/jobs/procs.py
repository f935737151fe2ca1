"""Processes by identity: a pid checked against its start time, process groups, signal names."""

from __future__ import annotations

import os
import signal
from pathlib import Path


class ProcError(ValueError):
    """A signal name that does not exist."""


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes().decode("ascii", "replace")
    except OSError:
        return None
    # The command name may hold spaces and parentheses; fields resume after the last ')'.
    return raw[raw.rfind(")") + 2:].split()


def proc_start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (tells a pid apart from a later reuse); None if unknown."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int | None, start_ticks: int | None = None) -> bool:
    """True when *pid* runs (not a zombie) and, if given, is the process that started at *start_ticks*."""
    if not pid:
        return False
    fields = _stat_fields(pid)
    if fields is not None:
        if not fields or fields[0] in ("Z", "X"):
            return False
        try:
            ticks = int(fields[19])
        except (IndexError, ValueError):
            return start_ticks is None
        return start_ticks is None or ticks == start_ticks
    if Path("/proc/self/stat").exists():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int | None) -> bool:
    """True when some process is still in process group *pgid*."""
    if not pgid:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_by_name(sig: int | str | None) -> int | None:
    """A signal number from a number, `SIGTERM`, `term` or `15`; None stays None."""
    if sig is None or isinstance(sig, int):
        return sig
    text = sig.strip().upper()
    if text.isdigit():
        return int(text)
    try:
        return int(signal.Signals[text if text.startswith("SIG") else "SIG" + text])
    except KeyError:
        raise ProcError(f"unknown signal {sig!r}") from None
