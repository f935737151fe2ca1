"""Time limits for grading: a signal timer that interrupts Python code on the main thread."""

from __future__ import annotations

import signal
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
            # re-fires every 50 ms in case a bare `except:` inside sympy swallowed the first one
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.05)
        return self

    @staticmethod
    def _fire(signum, frame):
        raise Timeout()

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
        return False
