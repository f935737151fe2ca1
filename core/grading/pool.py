"""Grading in worker processes: every item under a hard deadline, a worker that overruns killed and replaced.

One GradingPool serves every caller that grades off the main thread or in bulk: `grade_many`, `grade()`
called from other threads (the eval runner, synthesis) and dataset validation all submit to it and get a
Future of a Grade back.
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait

from mathbench.core.grading import rules
from mathbench.core.grading.rules import UNCERTAIN, Grade, NeedsSymbolic

STARTUP = 60.0  # a fresh worker imports sympy and math-verify before its first answer
_POLL = 0.25  # how often the dispatcher looks at the clock when no answer arrives


def _hard_deadline(timeout: float) -> float:
    return timeout * 2 + 3.0  # the worker's own timer fires at `timeout`; this catches what it cannot stop


def _worker_main(read_fd: int, write_fd: int) -> None:
    """Worker loop: receive lists of (index, kind, gold, pred, timeout), send back (index, grade fields) each."""
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rx, tx = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    while True:
        try:
            batch = rx.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        for idx, kind, gold, pred, timeout in batch:
            try:
                g = rules.grade_here(kind, gold, pred, timeout)
            except Exception as exc:  # noqa: BLE001 - one bad item must not kill the worker
                g = Grade(UNCERTAIN, f"error:{type(exc).__name__}", None, None)
            tx.send((idx, (str(g.verdict), g.reason, g.gold_answer, g.pred_answer, g.rule)))


class _Worker:
    """One grading subprocess (a fresh interpreter, so no __main__ re-import) that can be killed when it overruns."""

    def __init__(self):
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        code = f"from mathbench.core.grading.pool import _worker_main; _worker_main({to_child_r}, {from_child_w})"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.tx = Connection(to_child_w, readable=False)
        self.rx = Connection(from_child_r, writable=False)
        self.pending: deque = deque()  # (index, kind, gold, pred, timeout) sent, not yet answered, in order
        self.current_since = time.monotonic()
        self.answered = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, items: list[tuple]) -> None:
        if not self.pending:
            self.current_since = time.monotonic()
        self.pending.extend(items)
        self.tx.send(items)  # pending first: if the pipe is broken, the items are still accounted for

    def overran(self, now: float) -> bool:
        """Whether the item it works on has run past its hard deadline (or the worker died)."""
        if not self.pending:
            return False
        limit = _hard_deadline(self.pending[0][4]) + (STARTUP if self.answered == 0 else 0.0)
        return not self.alive() or now - self.current_since > limit

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        self.tx.close()
        self.rx.close()

    def close(self) -> None:
        try:
            self.tx.send(None)
            self.proc.wait(2)
        except Exception:  # noqa: BLE001 - a broken pipe or subprocess.TimeoutExpired: kill it instead
            pass
        self.kill()


class GradingPool:
    """Worker processes, started as needed, that grade submitted items; submit() returns a Future of a Grade."""

    def __init__(self, workers: int = 1, chunk: int = 4):
        self.size = max(1, workers)
        self.chunk = max(1, chunk)
        self._lock = threading.Lock()
        self._queue: deque = deque()  # (index, kind, gold, pred, timeout) waiting for a worker
        self._futures: dict[int, Future] = {}
        self._next = 0
        self._workers: list[_Worker] = []
        self._failed_starts = 0
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._loop, name="grading-pool", daemon=True)
        self._thread.start()

    def submit(self, kind: str, gold: str, pred: str, timeout: float = 5.0, *, fast: bool = True) -> Future:
        """Grade one item ('full' texts or an 'answer' pair); the pure-Python pass runs here, the rest in a worker."""
        fut: Future = Future()
        if fast:
            try:
                fut.set_result(rules.fast_grade(kind, gold, pred))
                return fut
            except NeedsSymbolic:
                pass
        with self._lock:
            if self._closed:
                raise RuntimeError("the grading pool is closed")
            idx = self._next
            self._next += 1
            self._futures[idx] = fut
            self._queue.append((idx, kind, gold, pred, timeout))
        os.write(self._wake_w, b"x")
        return fut

    def close(self) -> None:
        """Stop the workers; items still waiting get the grade of an item that could not finish."""
        with self._lock:
            self._closed = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        if threading.current_thread() is not self._thread:
            self._thread.join(5)

    # ------------------------------------------------------------ the dispatcher thread

    def _loop(self) -> None:
        from multiprocessing.connection import wait as wait_ready

        try:
            while True:
                with self._lock:
                    closed = self._closed
                if closed:
                    break
                self._feed()
                busy = [w for w in self._workers if w.pending]
                ready = wait_ready([w.rx for w in busy] + [self._wake_r], timeout=_POLL)
                if self._wake_r in ready:
                    os.read(self._wake_r, 4096)
                for w in busy:
                    if w.rx in ready:
                        self._collect(w)
                now = time.monotonic()
                for w in [w for w in self._workers if w.overran(now)]:
                    self._replace(w)
        except BaseException as exc:  # noqa: BLE001 - never leave a caller waiting on a dead dispatcher
            self._fail_all(exc)
        finally:
            for w in self._workers:
                w.close()
            self._workers = []
            self._fail_all(None)
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _feed(self) -> None:
        """Start workers for waiting items and keep every worker's pipe holding up to `chunk` items."""
        with self._lock:
            fresh: list[_Worker] = []
            while self._queue:
                for w in self._workers + fresh:
                    batch = []
                    while self._queue and len(w.pending) + len(batch) < self.chunk:
                        batch.append(self._queue.popleft())
                    if batch:
                        try:
                            w.send(batch)
                        except OSError:
                            pass  # a dead worker: its items stay pending and are dealt with by _replace
                if not self._queue or len(self._workers) + len(fresh) >= self.size:
                    break
                fresh.append(_Worker())
            self._workers.extend(fresh)

    def _collect(self, w: _Worker) -> None:
        try:
            while w.pending and w.rx.poll():
                idx, fields = w.rx.recv()
                w.pending.popleft()
                w.current_since = time.monotonic()
                w.answered += 1
                self._settle(idx, Grade(rules.Verdict(fields[0]), *fields[1:]))
        except (EOFError, OSError):
            pass  # it died: _replace sees it

    def _replace(self, w: _Worker) -> None:
        """Settle the item a dead or overrunning worker held, put its other items back, start a fresh worker."""
        stuck = w.pending.popleft()
        if not w.alive() and w.answered == 0:
            self._failed_starts += 1
        w.kill()
        self._workers.remove(w)
        with self._lock:
            self._queue.extendleft(reversed(w.pending))
        if self._failed_starts >= 2:
            raise RuntimeError("grading worker processes fail to start")
        self._settle(stuck[0], rules.fallback_grade(*stuck[1:4]))

    def _settle(self, idx: int, grade: Grade) -> None:
        with self._lock:
            fut = self._futures.pop(idx, None)
        if fut is not None:
            fut.set_result(grade)

    def _fail_all(self, exc: BaseException | None) -> None:
        with self._lock:
            waiting = [(i, self._futures.pop(i)) for i in list(self._futures)]
            items = {it[0]: it for it in self._queue}
            items.update({it[0]: it for w in self._workers for it in w.pending})
            self._queue.clear()
        for idx, fut in waiting:
            if exc is not None and not isinstance(exc, Exception):
                fut.set_exception(RuntimeError(f"grading stopped: {type(exc).__name__}"))
            elif exc is not None:
                fut.set_exception(exc)
            else:
                it = items.get(idx)
                fut.set_result(rules.fallback_grade(*it[1:4]) if it else Grade(UNCERTAIN, "timeout", None, None))


_SHARED: GradingPool | None = None
_SHARED_LOCK = threading.Lock()


def shared_pool() -> GradingPool:
    """The process-wide pool (one worker, started on first use) for grading off the main thread."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or _SHARED._closed or not _SHARED._thread.is_alive():
            _SHARED = GradingPool(workers=1, chunk=1)
        return _SHARED


@atexit.register
def _close_shared() -> None:
    if _SHARED is not None:
        _SHARED.close()


def grade_many(
    pairs: Iterable[tuple[str, str]],
    *,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    timeout: float = 5.0,
    chunk: int = 4,
) -> list[Grade]:
    """Grade (gold, prediction) full texts across all cores; an item that overruns becomes uncertain 'timeout'."""
    items = [(str(g) if g is not None else "", str(p) if p is not None else "") for g, p in pairs]
    total = len(items)
    results: list[Grade | None] = [None] * total
    done = 0

    def finished(n: int = 1) -> None:
        nonlocal done
        done += n
        if on_progress is not None:
            on_progress(done, total)

    slow: list[int] = []
    for i, (gold, pred) in enumerate(items):
        try:
            results[i] = rules.fast_grade("full", gold, pred)
            finished()
        except NeedsSymbolic:
            slow.append(i)
    n_workers = max(1, min(workers or os.cpu_count() or 1, math.ceil(len(slow) / 4)))
    main = threading.current_thread() is threading.main_thread()
    # a handful of symbolic items costs less here than starting worker processes (each imports sympy)
    if (len(slow) <= 16 and main) or (n_workers == 1 and main):
        for i in slow:
            results[i] = rules.grade_here("full", items[i][0], items[i][1], timeout)
            finished()
    elif slow:
        pool = GradingPool(n_workers, chunk) if len(slow) > 2 else shared_pool()
        try:
            futures = {pool.submit("full", *items[i], timeout, fast=False): i for i in slow}
            waiting = set(futures)
            while waiting:
                ready, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for fut in ready:
                    results[futures[fut]] = fut.result()
                    finished()
        finally:
            if pool is not _SHARED:
                pool.close()
    return results  # type: ignore[return-value]
