"""vLLM's log read as it really is: startup milestones, periodic stats lines, errors, engine death, shutdown.

Lines look like `(EngineCore pid=12) INFO 12-01 21:35:30 [core.py:402] msg` (the tag names the
process: APIServer, EngineCore, Worker, ...), or carry no tag (`INFO 12-01 ... [f.py:1] msg`), or
are uvicorn's (`INFO:     Application startup complete.`), or raw stderr (tracebacks, warnings).
The formats were read off vLLM 0.32 on CPU and GPU (`tests/data/real_stack`, `../shared/data/real_stack`).
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

# "(Tag pid=N) LEVEL MM-DD HH:MM:SS [file.py:N] message", the tag optional.
VLLM_LINE_RE = re.compile(
    r"^(?:\((?P<proc>[^()\s]+) pid=(?P<pid>\d+)\)\s+)?(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+"
    r"(?P<time>\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.\d+)?\s+\[(?P<src>[^\]]*)\]\s?(?P<msg>.*)$"
)
UVICORN_LINE_RE = re.compile(r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<msg>.*)$")
STATS_RE = re.compile(
    r"(?:(Engine \d+)|(\d+) Engines Aggregated)?:?\s*Avg prompt throughput: ([\d.]+) tokens/s, "
    r"Avg generation throughput: ([\d.]+) tokens/s, Running: (\d+) reqs, Waiting: (\d+) reqs"
)
PART_RE = re.compile(r"([A-Za-z][A-Za-z ]*?): ([\d.]+)\s*(%|reqs)?")
NUM = r"([\d,]+(?:\.\d+)?)"
# Every milestone is looked for in every line: one line may hold several.
MILESTONES = (
    ("version", re.compile(r"(?:█\s+version|vLLM API server version|\(v)\s*(\d+\.\d+\.\d+[\w.+-]*)")),
    ("loading", re.compile(r"Starting to load model (\S+?)(?:\.\.\.)?$")),
    ("weights_loaded", re.compile(r"Loading weights took ([\d.]+) s(?:econds)?\b")),
    ("model_loaded", re.compile(r"Model loading took ([\d.]+) GiB(?: memory)? and ([\d.]+) s(?:econds)?\b")),
    ("kv_cache_memory", re.compile(r"Available KV cache memory: ([\d.]+) GiB")),
    ("kv_cache_memory", re.compile(r"Explicitly set \(([\d.]+)/[\d.]+\) GiB for KV cache")),
    ("kv_cache_tokens", re.compile(r"(?:CPU|GPU|XPU|TPU|NPU|HPU)?\s*KV cache size: " + NUM + r" tokens")),
    ("max_concurrency", re.compile(r"Maximum concurrency for " + NUM + r" tokens per request: " + NUM + r"x")),
    ("engine_init", re.compile(r"init engine \(.*?\) took ([\d.]+) s(?:econds)?\b")),
    ("api_server", re.compile(r"Starting vLLM (?:API )?server(?: \d+)? on (\S+)")),
    ("ready", re.compile(r"Application startup complete\.")),
    ("ready", re.compile(r"Uvicorn running on (\S+)")),
    ("docs", re.compile(r"Visit (\S+)/docs for API document")),
    ("shutdown", re.compile(r"\[shutdown\] API server: shutdown triggered|^Shutting down$|Application shutdown complete\.")),
)
ENGINE_DEAD_RE = re.compile(r"EngineDeadError|EngineCore encountered a fatal error|Engine core initialization failed")
ROOT_CAUSE_RE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception)|OutOfMemoryError): (.+)$")
RAW_ERROR_RE = re.compile(r"^Traceback \(most recent call last\)|^(?:[\w.]+\.)?\w*(?:Error|Exception): |"
                          r"(?:CUDA )?[Oo]ut of memory")
LOG_TIME_RE = re.compile(r"\b(\d{2}-\d{2} \d{2}:\d{2}:\d{2})\b")


@dataclass
class LogLine:
    """One line of a vLLM log taken apart: process tag and pid, level, time, source, message."""

    text: str
    msg: str
    level: str | None = None
    proc: str | None = None
    pid: int | None = None
    time: str | None = None
    source: str | None = None

    @property
    def is_error(self) -> bool:
        """An ERROR/CRITICAL record, or raw stderr that starts a traceback or names an exception.

        A WARNING that merely quotes an error (`... like OSError: [Errno 24] ...`) is not one.
        """
        if self.level is not None:
            return self.level in ("ERROR", "CRITICAL")
        return bool(RAW_ERROR_RE.search(self.text))


def split_line(line: str) -> LogLine:
    """*line* (without its newline) taken apart into a LogLine."""
    text = line.rstrip("\r\n")
    m = VLLM_LINE_RE.match(text)
    if m:
        return LogLine(text, m.group("msg"), m.group("level"), m.group("proc"),
                       int(m.group("pid")) if m.group("pid") else None, m.group("time"), m.group("src"))
    m = UVICORN_LINE_RE.match(text)
    if m:
        return LogLine(text, m.group("msg").strip(), m.group("level"), "uvicorn")
    return LogLine(text, text.strip())


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
    kv = None
    for key in ("CPU KV cache usage", "GPU KV cache usage", "KV cache usage", "XPU KV cache usage"):
        if key in extra:
            kv = extra.pop(key)
            break
    lt = LOG_TIME_RE.search(line)
    return StatsPoint(
        time=now if now is not None else time.time(),
        prompt_tps=float(m.group(3)), gen_tps=float(m.group(4)),
        running=int(m.group(5)), waiting=int(m.group(6)),
        kv_cache_pct=kv, prefix_hit_pct=extra.pop("Prefix cache hit rate", None),
        engine=engine, extra=extra, log_time=lt.group(1) if lt else None,
    )


@dataclass
class ServerLog:
    """What a server's log has said so far: startup milestones, errors, engine death, and the stats series."""

    milestones: dict = field(default_factory=dict)
    stats: deque = field(default_factory=lambda: deque(maxlen=2000))
    errors: list[str] = field(default_factory=list)  # the last 50 error lines
    error_count: int = 0
    engine_dead: bool = False
    # Errors once the API server's shutdown began: vLLM's abort-mode teardown races its own output
    # handler and may log EngineDeadError even on a clean stop, so these are counted apart.
    shutdown_errors: int = 0
    root_cause: str | None = None  # the first exception message an error record names
    pids: dict = field(default_factory=dict)  # process tag -> pid, e.g. {"APIServer": 19489}
    lines: int = 0

    @property
    def ready(self) -> bool:
        """The server reached ready at some point (see `shutdown` for whether it has gone since)."""
        return "ready" in self.milestones

    @property
    def shutdown(self) -> bool:
        return "shutdown" in self.milestones

    @property
    def latest(self) -> StatsPoint | None:
        return self.stats[-1] if self.stats else None

    def feed(self, line: str, now: float | None = None) -> None:
        """Take one log line."""
        self.lines += 1
        parts = split_line(line)
        if parts.proc and parts.pid and parts.proc != "uvicorn":
            self.pids.setdefault(parts.proc, parts.pid)
        point = parse_stats_line(parts.msg, now)
        if point is not None:
            if point.log_time is None:
                point.log_time = parts.time
            self.stats.append(point)
            return
        for name, rx in MILESTONES:
            m = rx.search(parts.msg)
            if not m or (name in ("ready", "version", "shutdown") and name in self.milestones):
                continue
            self.milestones[name] = _milestone_value(name, m)
        if self.shutdown:
            if parts.is_error or (parts.level is None and ENGINE_DEAD_RE.search(parts.msg)):
                self.shutdown_errors += 1
            return
        if ENGINE_DEAD_RE.search(parts.msg) and (parts.is_error or parts.level is None):
            self.engine_dead = True
        if parts.is_error:
            self.error_count += 1
            self.errors.append(parts.text.strip())
            del self.errors[:-50]
            if self.root_cause is None:
                rc = ROOT_CAUSE_RE.match(parts.msg)
                if rc and rc.group(1) not in ("EngineDeadError",):
                    self.root_cause = f"{rc.group(1)}: {rc.group(2).strip()}"

    def feed_all(self, lines: Iterable[str]) -> "ServerLog":
        for line in lines:
            self.feed(line)
        return self

    def summary(self) -> dict:
        """The milestones as plain values for display and JSON."""
        m = self.milestones
        return {
            "version": m.get("version"),
            "model": m.get("loading"),
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
            "shutdown": self.shutdown,
            "engine_dead": self.engine_dead,
            "root_cause": self.root_cause,
            "errors": self.error_count,
            "shutdown_errors": self.shutdown_errors,
        }


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _milestone_value(name: str, m: re.Match):
    if name == "model_loaded":
        return {"gib": float(m.group(1)), "seconds": float(m.group(2))}
    if name == "max_concurrency":
        return {"tokens": int(_number(m.group(1))), "x": _number(m.group(2))}
    if name == "kv_cache_tokens":
        return int(_number(m.group(1)))
    if name in ("weights_loaded", "kv_cache_memory", "engine_init"):
        return float(m.group(1))
    if m.groups():
        return m.group(1)
    return True
