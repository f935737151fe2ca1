"""Following a run as it grows: new complete lines only, a live summary, the latest items, throughput."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.layout import RunError, declared_samples
from mathbench.core.evaluation.listing import run_status
from mathbench.core.evaluation.report import LiveSummary
from mathbench.core.evaluation.rundir import RunDir, as_run
from mathbench.core.records import RunStatus

RECENT_ITEMS = 14
RECENT_ERRORS = 6
RATE_WINDOW_S = 30.0


def _brief(record: dict) -> dict:
    error = record.get("error") or None
    return {
        "id": record.get("id"), "sample": record.get("sample"),
        "verdict": "error" if error else (record.get("verdict") or "?"),
        "gold": record.get("gold_answer"), "pred": record.get("pred_answer"),
        "reason": record.get("reason"), "latency": record.get("latency"), "error": error,
    }


class RunFollower:
    """Follows a run as it grows: poll() reads only new complete lines and keeps a LiveSummary current.

    A results file cut back (a torn tail repaired) or replaced is read again from its start.
    """

    def __init__(self, run: RunDir | Path | str, *, recent: int = RECENT_ITEMS, recent_errors: int = RECENT_ERRORS):
        self.run = as_run(run)
        self.tail = self.run.tail()
        self.live = LiveSummary(self.run.load_adjudications(strict=False))
        self.recent: deque[dict] = deque(maxlen=recent)
        self.errors: deque[dict] = deque(maxlen=recent_errors)
        self.arrivals: deque[tuple[float, int, int]] = deque()
        self.tokens = 0
        self.manifest: dict = {}

    def poll(self) -> list[dict]:
        """Records appended since the last poll (already folded into the summary); re-reads the manifest."""
        try:
            self.manifest = self.run.manifest
        except (RunError, OSError):
            pass  # a manifest mid-rewrite or damaged: keep the last good one
        new = self.tail.read_new()
        if self.tail.resets:
            # The file was cut back (a torn tail repaired) or replaced: rebuild from what is there now.
            self.tail.resets = 0
            self.live = LiveSummary(self.live.adjudications)
            self.recent.clear()
            self.errors.clear()
            self.arrivals.clear()
            self.tokens = 0
        if not new:
            return new
        self.live.extend(new)
        for record in new:
            self.tokens += int((record.get("usage") or {}).get("completion_tokens") or 0)
            brief = _brief(record)
            self.recent.appendleft(brief)
            if brief["error"]:
                self.errors.appendleft(brief)
        now = time.monotonic()
        self.arrivals.append((now, len(self.live), self.tokens))
        while self.arrivals and now - self.arrivals[0][0] > RATE_WINDOW_S and len(self.arrivals) > 2:
            self.arrivals.popleft()
        return new

    def refresh_adjudications(self) -> None:
        """Re-read adjudications.jsonl (a reviewer may have settled items meanwhile)."""
        self.live.set_adjudications(self.run.load_adjudications(strict=False))

    @property
    def problems(self) -> list[str]:
        """Malformed complete lines met so far, as FILE:LINE:COL messages."""
        return self.tail.problems

    def summary(self) -> dict:
        return self.live.summary()

    def status(self, *, running: bool) -> RunStatus:
        """Where the followed run stands, by the same rule as the run list (errors left: incomplete)."""
        total = self.manifest.get("total")
        samples = declared_samples(self.manifest)
        summary = self.live.summary()
        return run_status(running=running, recorded=self.manifest.get("status"),
                          planned=total * samples if isinstance(total, int) else None, done=len(self.live),
                          errors=summary["errors"])

    def snapshot(self) -> dict[str, Any]:
        """An immutable picture of the run: names, counts, summary, rates, ETA and the latest items."""
        summary = self.live.summary()
        manifest = self.manifest
        total = manifest.get("total")
        samples = declared_samples(manifest)
        planned = total * samples if isinstance(total, int) else None
        done = len(self.live)
        rate = tok_rate = None
        if len(self.arrivals) >= 2:
            (t0, n0, k0), (t1, n1, k1) = self.arrivals[0], self.arrivals[-1]
            if t1 > t0:
                rate = (n1 - n0) / (t1 - t0)
                tok_rate = (k1 - k0) / (t1 - t0)
        eta = (planned - done) / rate if rate and planned is not None and planned > done else None
        return {
            "name": str(manifest.get("name") or self.run.name), "model": manifest.get("model"),
            "benchmark": manifest.get("benchmark"), "endpoints": manifest.get("base_urls") or [],
            "total": planned, "done": done, "samples": samples, "rate": rate, "tok_rate": tok_rate, "eta": eta,
            "summary": summary, "recent": list(self.recent), "errors": list(self.errors),
            "problems": list(self.tail.problems[-3:]), "recorded_status": manifest.get("status"),
            "down_since": manifest.get("down_since"), "stopped_reason": manifest.get("stopped_reason"),
        }
