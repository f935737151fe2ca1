"""vLLM's log read as it really is: startup milestones, periodic stats lines, errors."""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

STATS_RE = re.compile(
    r"(?:(Engine \d+)|(\d+) Engines Aggregated)?:?\s*Avg prompt throughput: ([\d.]+) tokens/s, "
    r"Avg generation throughput: ([\d.]+) tokens/s, Running: (\d+) reqs, Waiting: (\d+) reqs"
)
PART_RE = re.compile(r"([A-Za-z][A-Za-z ]*?): ([\d.]+)\s*(%|reqs)?")
MILESTONES = (
    ("loading", re.compile(r"Starting to load model (\S+)")),
    ("weights_loaded", re.compile(r"Loading weights took ([\d.]+) seconds")),
    ("model_loaded", re.compile(r"Model loading took ([\d.]+) GiB(?: memory)? and ([\d.]+) seconds")),
    ("kv_cache_memory", re.compile(r"Available KV cache memory: ([\d.]+) GiB")),
    ("kv_cache_tokens", re.compile(r"GPU KV cache size: ([\d,]+) tokens")),
    ("max_concurrency", re.compile(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x")),
    ("engine_init", re.compile(r"init engine \(.*\) took ([\d.]+) seconds")),
    ("api_server", re.compile(r"Starting vLLM (?:API )?server(?: \d+)? on (\S+)")),
    ("ready", re.compile(r"Application startup complete\.")),
    ("ready", re.compile(r"Uvicorn running on (\S+)")),
    ("docs", re.compile(r"Visit (\S+)/docs for API document")),
)
ERROR_RE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|(?:CUDA )?[Oo]ut of memory|Error: ")
LOG_TIME_RE = re.compile(r"\b(\d{2}-\d{2} \d{2}:\d{2}:\d{2})\b")


@dataclass
class StatsPoint:
    """One periodic stats line of vLLM (per engine or aggregated)."""

    time: float
    prompt_tps: float
    gen_tps: float
    running: int
    waiting: int
    kv_cache_pct: float | None = None
    prefix_hit_pct: float | None = None
    engine: str | None = None
    extra: dict = field(default_factory=dict)
    log_time: str | None = None


def parse_stats_line(line: str, now: float | None = None) -> StatsPoint | None:
    """The numbers of a vLLM stats line (`Avg prompt throughput: ... Running: N reqs ...`), or None."""
    m = STATS_RE.search(line)
    if not m:
        return None
    engine = m.group(1) or (f"{m.group(2)} Engines Aggregated" if m.group(2) else None)
    extra = {}
    for pm in PART_RE.finditer(line[m.end():]):
        extra[pm.group(1).strip()] = float(pm.group(2))
    lt = LOG_TIME_RE.search(line)
    return StatsPoint(
        time=now if now is not None else time.time(),
        prompt_tps=float(m.group(3)), gen_tps=float(m.group(4)),
        running=int(m.group(5)), waiting=int(m.group(6)),
        kv_cache_pct=extra.pop("GPU KV cache usage", None),
        prefix_hit_pct=extra.pop("Prefix cache hit rate", None),
        engine=engine, extra=extra, log_time=lt.group(1) if lt else None,
    )


@dataclass
class ServerLog:
    """What a server's log has said so far: startup milestones, errors, and the stats series."""

    milestones: dict = field(default_factory=dict)
    stats: deque = field(default_factory=lambda: deque(maxlen=2000))
    errors: list[str] = field(default_factory=list)
    lines: int = 0

    @property
    def ready(self) -> bool:
        return "ready" in self.milestones

    @property
    def latest(self) -> StatsPoint | None:
        return self.stats[-1] if self.stats else None

    def feed(self, line: str, now: float | None = None) -> None:
        """Take one log line."""
        self.lines += 1
        point = parse_stats_line(line, now)
        if point is not None:
            self.stats.append(point)
            return
        for name, rx in MILESTONES:
            m = rx.search(line)
            if not m:
                continue
            value = _milestone_value(name, m)
            if name == "ready" and "ready" in self.milestones:
                break
            self.milestones[name] = value
            break
        else:
            if ERROR_RE.search(line):
                self.errors.append(line.strip())
                del self.errors[:-50]

    def feed_all(self, lines: Iterable[str]) -> "ServerLog":
        for line in lines:
            self.feed(line)
        return self

    def summary(self) -> dict:
        """The milestones as plain values for display and JSON."""
        m = self.milestones
        return {
            "weights_loaded_s": m.get("weights_loaded"),
            "model_memory_gib": (m.get("model_loaded") or {}).get("gib"),
            "model_load_s": (m.get("model_loaded") or {}).get("seconds"),
            "kv_cache_gib": m.get("kv_cache_memory"),
            "kv_cache_tokens": m.get("kv_cache_tokens"),
            "max_concurrency": (m.get("max_concurrency") or {}).get("x"),
            "max_concurrency_tokens": (m.get("max_concurrency") or {}).get("tokens"),
            "engine_init_s": m.get("engine_init"),
            "api_server": m.get("api_server"),
            "ready": self.ready,
            "errors": len(self.errors),
        }


def _milestone_value(name: str, m: re.Match):
    if name == "model_loaded":
        return {"gib": float(m.group(1)), "seconds": float(m.group(2))}
    if name == "max_concurrency":
        return {"tokens": int(m.group(1).replace(",", "")), "x": float(m.group(2))}
    if name == "kv_cache_tokens":
        return int(m.group(1).replace(",", ""))
    if name in ("weights_loaded", "kv_cache_memory", "engine_init"):
        return float(m.group(1))
    if m.groups():
        return m.group(1)
    return True

