"""vLLM's /metrics (Prometheus text): parsed, boiled down to serving numbers, and turned into rates."""

from __future__ import annotations

import math
import re
import time
import urllib.error
from collections import deque
from dataclasses import dataclass, field

from mathbench.core.jobs.serving.http import http_get, root_url


@dataclass(frozen=True)
class Sample:
    """One sample line of a Prometheus text exposition."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str, default: str | None = None) -> str | None:
        return dict(self.labels).get(key, default)


LABEL_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_metrics(text: str) -> list[Sample]:
    """The samples of a Prometheus text exposition (comments skipped, label values unescaped)."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            name = line[:brace]
            close = _label_end(line, brace)
            if close == -1:
                continue
            labels = tuple((k, _unescape(v)) for k, v in LABEL_RE.findall(line[brace + 1:close]))
            rest = line[close + 1:].split()
        else:
            name, _, tail = line.partition(" ")
            labels = ()
            rest = tail.split()
        if not rest:
            continue
        try:
            value = float(rest[0])
        except ValueError:
            continue
        out.append(Sample(name, labels, value))
    return out


def _label_end(line: str, start: int) -> int:
    in_str = esc = False
    for i in range(start + 1, len(line)):
        c = line[i]
        if esc:
            esc = False
        elif c == "\\":
            esc = True
        elif c == '"':
            in_str = not in_str
        elif c == "}" and not in_str:
            return i
    return -1


def _unescape(v: str) -> str:
    return v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


@dataclass
class MetricsSnapshot:
    """vLLM's /metrics boiled down: gauges summed (KV use averaged) across engines, counters totals."""

    time: float
    running: float | None = None
    waiting: float | None = None
    kv_cache_usage: float | None = None  # a fraction 0..1
    prompt_tokens: float | None = None
    generation_tokens: float | None = None
    requests_finished: float | None = None
    preemptions: float | None = None
    prefix_cache_queries: float | None = None
    prefix_cache_hits: float | None = None
    ttft_sum: float | None = None
    ttft_count: float | None = None
    e2e_sum: float | None = None
    e2e_count: float | None = None
    model_names: tuple[str, ...] = ()
    kv_cache_tokens: int | None = None  # from vllm:cache_config_info, for servers whose log we cannot read
    cache_config: dict = field(default_factory=dict)
    finished_by_reason: dict = field(default_factory=dict)  # stop, length, abort, error, repetition -> count

    @property
    def requests_errored(self) -> float | None:
        return self.finished_by_reason.get("error")

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _sum(samples: list[Sample], name: str) -> float | None:
    vals = [s.value for s in samples if s.name == name and not math.isnan(s.value)]
    return sum(vals) if vals else None


def summarize_metrics(samples: list[Sample], now: float | None = None) -> MetricsSnapshot:
    """Pick vLLM's serving numbers out of parsed samples (exact names, both KV-cache names accepted)."""
    kv = [s.value for s in samples if s.name == "vllm:kv_cache_usage_perc"]
    if not kv:
        kv = [s.value for s in samples if s.name == "vllm:gpu_cache_usage_perc"]
    names = tuple(sorted({s.label("model_name") for s in samples if s.name.startswith("vllm:") and s.label("model_name")}))
    info = next((dict(s.labels) for s in samples if s.name == "vllm:cache_config_info"), {})
    return MetricsSnapshot(
        time=now if now is not None else time.time(),
        running=_sum(samples, "vllm:num_requests_running"),
        waiting=_sum(samples, "vllm:num_requests_waiting"),
        kv_cache_usage=(sum(kv) / len(kv)) if kv else None,
        prompt_tokens=_sum(samples, "vllm:prompt_tokens_total"),
        generation_tokens=_sum(samples, "vllm:generation_tokens_total"),
        requests_finished=_sum(samples, "vllm:request_success_total"),
        preemptions=_sum(samples, "vllm:num_preemptions_total"),
        prefix_cache_queries=_sum(samples, "vllm:prefix_cache_queries_total"),
        prefix_cache_hits=_sum(samples, "vllm:prefix_cache_hits_total"),
        ttft_sum=_sum(samples, "vllm:time_to_first_token_seconds_sum"),
        ttft_count=_sum(samples, "vllm:time_to_first_token_seconds_count"),
        e2e_sum=_sum(samples, "vllm:e2e_request_latency_seconds_sum"),
        e2e_count=_sum(samples, "vllm:e2e_request_latency_seconds_count"),
        model_names=names,
        kv_cache_tokens=_kv_tokens(info),
        cache_config=info,
        finished_by_reason=_by_label(samples, "vllm:request_success_total", "finished_reason"),
    )


def _by_label(samples: list[Sample], name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in samples:
        if s.name == name and not math.isnan(s.value):
            key = s.label(label) or "?"
            out[key] = out.get(key, 0.0) + s.value
    return out


def _kv_tokens(info: dict) -> int | None:
    # Newer builds label the size itself; otherwise it is blocks times block size.
    try:
        return int(info["kv_cache_size_tokens"])
    except (KeyError, ValueError):
        pass
    try:
        return int(info["num_gpu_blocks"]) * int(info["block_size"])
    except (KeyError, ValueError):
        return None


def fetch_metrics(base_url: str, *, timeout: float = 2.0) -> MetricsSnapshot | None:
    """Scrape /metrics (no auth needed) and summarize; None when the server has no /metrics or is down."""
    try:
        status, body = http_get(root_url(base_url) + "/metrics", timeout=timeout)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    if status != 200:
        return None
    return summarize_metrics(parse_metrics(body.decode("utf-8", "replace")))


@dataclass
class MetricsPoint:
    """Rates between two scrapes, for charts."""

    time: float
    prompt_tps: float | None
    gen_tps: float | None
    running: float | None
    waiting: float | None
    kv_cache_pct: float | None


class MetricsTracker:
    """Keeps recent scrapes and turns counter deltas into tokens/s (a counter reset starts afresh)."""

    def __init__(self, maxlen: int = 600):
        self.last: MetricsSnapshot | None = None
        self.points: deque[MetricsPoint] = deque(maxlen=maxlen)

    def add(self, snap: MetricsSnapshot) -> MetricsPoint:
        prev, self.last = self.last, snap
        p_tps = g_tps = None
        if prev is not None and snap.time > prev.time:
            dt = snap.time - prev.time
            p_tps = _rate(prev.prompt_tokens, snap.prompt_tokens, dt)
            g_tps = _rate(prev.generation_tokens, snap.generation_tokens, dt)
        point = MetricsPoint(snap.time, p_tps, g_tps, snap.running, snap.waiting,
                             None if snap.kv_cache_usage is None else snap.kv_cache_usage * 100)
        self.points.append(point)
        return point


def _rate(a: float | None, b: float | None, dt: float) -> float | None:
    if a is None or b is None or b < a:
        return None
    return (b - a) / dt

