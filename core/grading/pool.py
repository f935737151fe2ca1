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

from mathbench.core.grading import judge
from mathbench.core.grading.rules import Grade, NeedsSymbolic
from mathbench.core.records import Verdict

STARTUP = 60.0  # a fresh worker imports sympy and math-verify before it takes its first item
HARD_MARGIN = 1.0  # the worker's own timer fires at the deadline; a worker still busy this much later is killed
INLINE_CHARS = 8_000  # longer items skip the in-thread pass: only a worker process can be stopped mid-regex
_POLL = 0.1  # how often the dispatcher looks at the clock when no answer arrives


def _worker_main(read_fd: int, write_fd: int) -> None:
    """Worker loop: warm up and say so, then take lists of (index, kind, gold, pred, timeout, extra) and send
    back (index, grade fields) for each."""
    from multiprocessing.connection import Connection

    from mathbench.core.grading import symbolic

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rx, tx = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    symbolic.warm_up()
    tx.send(("ready", None))
    while True:
        try:
            batch = rx.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        for idx, kind, gold, pred, timeout, extra in batch:
            try:
                g = judge.grade_here(kind, gold, pred, timeout, extra)
            except BaseException:  # noqa: BLE001 - one bad item must not kill the worker
                g = judge.unfinished(kind, gold, pred, "grader-error")
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
        self.pending: deque = deque()  # (index, kind, gold, pred, timeout, extra) sent, not yet answered, in order
        self.started = self.current_since = time.monotonic()
        self.ready = False
        self.answered = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, items: list[tuple]) -> None:
        if not self.pending:
            self.current_since = time.monotonic()
        self.pending.extend(items)
        self.tx.send(items)  # pending first: if the pipe is broken, the items are still accounted for

    def overran(self, now: float) -> bool:
        """Whether the item it works on has run past its deadline by HARD_MARGIN (or the worker died)."""
        if not self.ready:
            return not self.alive() or now - self.started > STARTUP
        if not self.pending:
            return False
        return not self.alive() or now - self.current_since > self.pending[0][4] + HARD_MARGIN

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

    def submit(self, kind: str, gold: str, pred: str, timeout: float = 5.0, *, extra: dict | None = None,
               fast: bool = True) -> Future:
        """Grade one item ('full' texts or an 'answer' pair); the pure-Python pass of a short item runs here,
        the rest in a worker. `extra` holds grade_texts' keywords (choices, question)."""
        fut: Future = Future()
        if fast and len(str(gold)) + len(str(pred)) <= INLINE_CHARS:
            try:
                fut.set_result(judge.fast_grade(kind, gold, pred, timeout, extra))
                return fut
            except NeedsSymbolic:
                pass
        with self._lock:
            if self._closed:
                raise RuntimeError("the grading pool is closed")
            idx = self._next
            self._next += 1
            self._futures[idx] = fut
            self._queue.append((idx, kind, gold, pred, timeout, extra))
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
                busy = [w for w in self._workers if w.pending or not w.ready]
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
            while (w.pending or not w.ready) and w.rx.poll():
                idx, fields = w.rx.recv()
                w.current_since = time.monotonic()
                if idx == "ready":
                    w.ready = True
                    continue
                w.pending.popleft()
                w.answered += 1
                self._settle(idx, Grade(Verdict(fields[0]), *fields[1:]))
        except (EOFError, OSError):
            pass  # it died: _replace sees it

    def _replace(self, w: _Worker) -> None:
        """Settle the item a dead or overrunning worker held, put its other items back, start a fresh worker."""
        if not w.ready:
            self._failed_starts += 1
            stuck = None
        else:
            stuck = w.pending.popleft() if w.pending else None
        w.kill()
        self._workers.remove(w)
        with self._lock:
            self._queue.extendleft(reversed(w.pending))
        if self._failed_starts >= 2:
            raise RuntimeError("grading worker processes fail to start")
        if stuck is not None:
            self._settle(stuck[0], judge.unfinished(*stuck[1:4]))

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
                fut.set_result(judge.unfinished(*it[1:4]) if it else judge.unfinished("full", None, None))


_SHARED: GradingPool | None = None
_SHARED_LOCK = threading.Lock()


def shared_pool() -> GradingPool:
    """The process-wide pool (a worker per two cores, up to four, started as needed) for grading off the main
    thread."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or _SHARED._closed or not _SHARED._thread.is_alive():
            _SHARED = GradingPool(workers=max(1, min(4, (os.cpu_count() or 2) // 2)), chunk=1)
        return _SHARED


@atexit.register
def _close_shared() -> None:
    if _SHARED is not None:
        _SHARED.close()


def _item(entry) -> tuple:
    """(gold, prediction, extra) from (gold, prediction[, choices[, question]]); a choice item's gold may be an
    option's index."""
    gold, pred, *rest = entry
    extra = {}
    if rest and rest[0] is not None:
        extra["choices"] = rest[0]
    if len(rest) > 1 and rest[1]:
        extra["question"] = str(rest[1])
    keep = extra.get("choices") is not None and isinstance(gold, int) and not isinstance(gold, bool)
    return (gold if keep else "" if gold is None else str(gold)), ("" if pred is None else str(pred)), (extra or None)


def grade_many(
    pairs: Iterable[tuple],
    *,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    timeout: float = 5.0,
    chunk: int = 4,
) -> list[Grade]:
    """Grade (gold, prediction[, choices[, question]]) full texts across all cores, each within `timeout`
    seconds; an item the grader cannot finish is uncertain ('too-large' or 'grader-error'), never a lost batch."""
    items = [_item(entry) for entry in pairs]
    total = len(items)
    results: list[Grade | None] = [None] * total
    done = 0

    def finished(n: int = 1) -> None:
        nonlocal done
        done += n
        if on_progress is not None:
            on_progress(done, total)

    main = threading.current_thread() is threading.main_thread()
    slow: list[int] = []
    for i, (gold, pred, extra) in enumerate(items):
        if not main and len(str(gold)) + len(pred) > INLINE_CHARS:
            slow.append(i)  # off the main thread no timer can stop a long scan: a worker takes it
            continue
        try:
            results[i] = judge.fast_grade("full", gold, pred, timeout, extra)
            finished()
        except NeedsSymbolic:
            slow.append(i)
    n_workers = max(1, min(workers or os.cpu_count() or 1, math.ceil(len(slow) / 4)))
    # a handful of symbolic items costs less here than starting worker processes (each imports sympy)
    if main and (len(slow) <= 16 or n_workers == 1):
        for i in slow:
            results[i] = judge.grade_here("full", *items[i][:2], timeout, items[i][2])
            finished()
    elif slow:
        pool = GradingPool(n_workers, chunk) if len(slow) > 2 else shared_pool()
        try:
            futures = {pool.submit("full", *items[i][:2], timeout, extra=items[i][2], fast=False): i for i in slow}
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
