"""Limits for grading: a signal timer for the main thread, and size checks for what no timer can stop."""

from __future__ import annotations

import re
import signal
import sys
import threading


class Timeout(BaseException):
    """Grading ran past its time limit (a BaseException, so a library's `except Exception` lets it by)."""


class time_limit:
    """Raise Timeout in the main thread after `seconds` (a real-time interval timer); elsewhere a no-op."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.active = bool(seconds) and threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.active:
            self.old = signal.signal(signal.SIGALRM, self._fire)
            # A Timeout raised inside a finalizer is only reported, and the next one follows in 50 ms: the
            # report is noise, and a hook busy writing it (pytest's) would itself be interrupted.
            self.old_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
            # re-fires every 50 ms in case a bare `except:` inside sympy swallowed the first one
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.05)
        return self

    @staticmethod
    def _fire(signum, frame):
        raise Timeout()

    def _unraisable(self, unraisable) -> None:
        if not (isinstance(unraisable.exc_type, type) and issubclass(unraisable.exc_type, Timeout)):
            self.old_hook(unraisable)

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
            sys.unraisablehook = self.old_hook
        return False


class TooLarge(Exception):
    """An answer too large to read or compare safely (huge exponents, thousands of digits, deep nesting)."""


MAX_TEXT = 20_000  # longer texts are cut to their tail: answers sit at the end, and every scan stays short
MAX_DIGITS = 4_000  # Python refuses to convert integers of more than 4,300 digits
MAX_EXPONENT = 10_000  # 10**10_000 takes microseconds; 10**999_999_999 never finishes
MAX_SYMBOLIC = 1_500  # characters of one answer handed to sympy
MAX_DEPTH = 60  # bracket nesting handed to sympy's recursive parser

_EXPONENT = re.compile(r"(?:\^|\*\*)\s*\{?\s*\(?\s*\+?(\d{5,})")
_FACTORIAL = re.compile(r"(\d{4,})\s*!|factorial\(\s*(\d{4,})|\\[dt]?binom\s*\{\s*(\d{5,})|binomial\(\s*(\d{5,})")
_OPAQUE = re.compile(r"(?:factorial|binomial|gamma)\(\s*(?![\d\s]{1,6}[,)])")  # a computed argument: no size known
_MAX_FACTORIAL = 5_000


def check_size(text: str) -> None:
    """Raise TooLarge when an answer could make sympy work without bound (and no timer can stop C code)."""
    if len(text) > MAX_SYMBOLIC:
        raise TooLarge(f"{len(text)} characters")
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise TooLarge(f"nested {deepest} deep")
    for m in _EXPONENT.finditer(text):
        if len(m.group(1)) > 12 or int(m.group(1)) > MAX_EXPONENT:
            raise TooLarge(m.group(0)[:40])
    if _OPAQUE.search(text):
        raise TooLarge(_OPAQUE.search(text).group(0))
    for m in _FACTORIAL.finditer(text):
        n = next(g for g in m.groups() if g)
        if len(n) > 12 or int(n) > _MAX_FACTORIAL:
            raise TooLarge(m.group(0)[:40])
    if re.search(r"\d{%d,}" % MAX_DIGITS, text):
        raise TooLarge("a number of thousands of digits")
