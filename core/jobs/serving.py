"""Serving: `vllm serve` / `llamafactory-cli api` as jobs, their startup and stats log lines, /health, /v1/models, /metrics."""

from __future__ import annotations

import json
import math
import os
import re
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from mathbench.core.jobs.registry import Job, get_job, list_jobs, new_secret, reserve_job, start_job
from mathbench.core.workspace import Workspace

API_KEY_FILE = "api_key"
DEFAULT_PORT = 8000


class ServeError(ValueError):
    """A serve request that cannot make a valid command line."""


# ---------------------------------------------------------------- API key


def api_key_path(workspace: Workspace) -> Path:
    return workspace.state_dir / API_KEY_FILE


def workspace_api_key(workspace: Workspace, *, create: bool = True) -> str | None:
    """The workspace's API key for the servers it starts, generated once and stored with 0600 permissions."""
    path = api_key_path(workspace)
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "mb-" + new_secret(24)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return key


# ---------------------------------------------------------------- command lines


def parse_lora(items: Iterable[str] | dict | None) -> dict[str, str]:
    """`NAME=PATH` strings (or a dict) as an ordered name -> path map."""
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k): str(v) for k, v in items.items()}
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ServeError(f"--lora {item!r}: expected NAME=PATH")
        out[name.strip()] = path.strip()
    return out


def vllm_command(
    model: str,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    served_model_name: str | None = None,
    tensor_parallel_size: int = 1,
    lora: dict[str, str] | None = None,
    generation_config: str = "vllm",
    max_model_len: str | int | None = None,
    gpu_memory_utilization: float | None = None,
    extra: Iterable[str] = (),
    access_log: bool = False,
    executable: str = "vllm",
) -> list[str]:
    """The `vllm serve` argv (the API key travels in VLLM_API_KEY, never on the command line).

    Uvicorn's per-request access log is off unless *access_log*: our own /health and /metrics polls would flood it.
    """
    argv = [executable, "serve", str(model), "--host", host, "--port", str(int(port))]
    if not access_log:
        argv.append("--disable-uvicorn-access-log")
    if served_model_name:
        argv += ["--served-model-name", served_model_name]
    if tensor_parallel_size and int(tensor_parallel_size) != 1:
        argv += ["--tensor-parallel-size", str(int(tensor_parallel_size))]
    if generation_config:
        argv += ["--generation-config", generation_config]
    if max_model_len:
        argv += ["--max-model-len", str(max_model_len)]
    if gpu_memory_utilization:
        argv += ["--gpu-memory-utilization", str(gpu_memory_utilization)]
    if lora:
        argv += ["--enable-lora", "--lora-modules", *(f"{n}={p}" for n, p in lora.items())]
    argv += list(extra)
    return argv


@dataclass
class ServeLaunch:
    """What a server job gets: argv, environment, its base URL and the model names it will serve."""

    job_id: str
    argv: list[str]
    env: dict[str, str]
    base_url: str
    engine: str
    models: list[str]
    config_path: Path | None = None


def prepare_serve(
    workspace: Workspace,
    model: str,
    *,
    engine: str = "vllm",
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    served_model_name: str | None = None,
    tensor_parallel_size: int = 1,
    lora: Iterable[str] | dict | None = None,
    gpus: str | None = None,
    api_key: str | None | bool = True,
    generation_config: str = "vllm",
    max_model_len: str | int | None = None,
    gpu_memory_utilization: float | None = None,
    extra: Iterable[str] = (),
    infer_backend: str = "vllm",
) -> ServeLaunch:
    """Build the server's launch; api_key=True uses the workspace key, a string that key, False/None none."""
    loras = parse_lora(lora)
    if engine not in ("vllm", "llamafactory"):
        raise ServeError(f"--engine {engine!r}: expected vllm or llamafactory")
    if not (0 < int(port) < 65536):
        raise ServeError(f"--port {port}: not a TCP port")
    key = workspace_api_key(workspace) if api_key is True else (api_key or None)
    env = {"NO_COLOR": "1"}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(gpus)
    job_id = reserve_job(workspace, "serve")
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base_url = f"http://{_bracket(connect_host)}:{int(port)}/v1"
    config_path = None
    if engine == "vllm":
        argv = vllm_command(
            model, host=host, port=port, served_model_name=served_model_name,
            tensor_parallel_size=tensor_parallel_size, lora=loras, generation_config=generation_config,
            max_model_len=max_model_len, gpu_memory_utilization=gpu_memory_utilization, extra=extra,
        )
        if key:
            env["VLLM_API_KEY"] = key
        models = [served_model_name or model, *loras]
    else:
        from mathbench.core.jobs.training import render_config

        if len(loras) > 1:
            raise ServeError("llamafactory-cli api serves one adapter: give at most one --lora")
        values = {"model_path": model, "infer_backend": infer_backend}
        if loras:
            values["adapter_path"] = next(iter(loras.values()))
        text = render_config("inference", values)
        config_path = workspace.jobs_dir / job_id / "api.yaml"
        config_path.write_text(text, encoding="utf-8")
        argv = ["llamafactory-cli", "api", str(config_path), *extra]
        name = served_model_name or Path(model.rstrip("/")).name or "gpt-3.5-turbo"
        env.update(API_HOST=host, API_PORT=str(int(port)), API_MODEL_NAME=name)
        if key:
            env["API_KEY"] = key
        models = [name]
    return ServeLaunch(job_id, argv, env, base_url, engine, models, config_path)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def start_server(workspace: Workspace, model: str, **kwargs) -> Job:
    """Start `vllm serve` (or `llamafactory-cli api`) as a detached job; the job's url is its /v1 base URL."""
    launch = prepare_serve(workspace, model, **kwargs)
    meta = {
        "engine": launch.engine, "model": model, "models": launch.models, "stop_signal": "SIGINT",
        "api_key_file": str(api_key_path(workspace)) if "VLLM_API_KEY" in launch.env or "API_KEY" in launch.env else None,
        "title": f"{launch.engine} {Path(model.rstrip('/')).name}",
    }
    return start_job(workspace, "serve", launch.argv, env=launch.env, cwd=workspace.root, meta=meta,
                     url=launch.base_url, job_id=launch.job_id)


# ---------------------------------------------------------------- log parsing


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


# ---------------------------------------------------------------- HTTP probes


def root_url(base_url: str) -> str:
    """The server root of an OpenAI base URL (`http://h:p/v1` -> `http://h:p`)."""
    u = base_url.rstrip("/")
    return u[:-3] if u.endswith("/v1") else u


def api_base(url: str) -> str:
    """An OpenAI base URL ending in /v1 from a server URL given either way."""
    u = url.rstrip("/")
    return u if u.endswith("/v1") else u + "/v1"


def _get(url: str, *, api_key: str | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read() if exc.fp else b""


def probe_health(base_url: str, *, timeout: float = 2.0) -> str:
    """`ready` (/health 200), `unhealthy` (503: engine dead), `no-health` (no such route), or `down` (unreachable)."""
    try:
        status, _ = _get(root_url(base_url) + "/health", timeout=timeout)
    except (urllib.error.URLError, OSError, ValueError):
        return "down"
    if status == 200:
        return "ready"
    if status == 404:
        return "no-health"  # llamafactory-cli api has no /health; /v1/models says whether it is up
    return "unhealthy"


@dataclass
class ModelInfo:
    """One entry of /v1/models."""

    id: str
    root: str | None = None
    parent: str | None = None
    max_model_len: int | None = None
    owned_by: str | None = None


def list_models(base_url: str, api_key: str | None = None, *, timeout: float = 3.0) -> list[ModelInfo]:
    """The served models; raises ConnectionError (unreachable), PermissionError (401) or ValueError."""
    try:
        status, body = _get(api_base(base_url) + "/models", api_key=api_key, timeout=timeout)
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectionError(f"{base_url}: {exc}") from None
    if status in (401, 403):
        raise PermissionError(f"{base_url}: {status} (wrong or missing API key)")
    if status != 200:
        raise ValueError(f"{base_url}/models: HTTP {status}")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{base_url}/models: bad JSON at 1:{exc.colno}") from None
    out = []
    for d in data.get("data", []) if isinstance(data, dict) else []:
        if isinstance(d, dict) and d.get("id"):
            out.append(ModelInfo(str(d["id"]), d.get("root"), d.get("parent"), d.get("max_model_len"), d.get("owned_by")))
    return out


# ---------------------------------------------------------------- /metrics


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
    )


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
        status, body = _get(root_url(base_url) + "/metrics", timeout=timeout)
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


# ---------------------------------------------------------------- status of a server


@dataclass
class ServerStatus:
    """One look at a server: health, models, metrics (any part None when unavailable)."""

    base_url: str
    health: str
    models: list[ModelInfo] = field(default_factory=list)
    metrics: MetricsSnapshot | None = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.health == "ready" or (self.health == "no-health" and bool(self.models))

    def to_dict(self) -> dict:
        return {
            "base_url": self.base_url, "health": self.health, "ready": self.ready,
            "models": [m.__dict__ for m in self.models],
            "metrics": self.metrics.to_dict() if self.metrics else None, "error": self.error,
        }


def server_status(base_url: str, api_key: str | None = None, *, timeout: float = 2.0, metrics: bool = True) -> ServerStatus:
    """Probe a server by URL (ours or one started elsewhere): /health, then /v1/models and /metrics."""
    base = api_base(base_url)
    health = probe_health(base, timeout=timeout)
    st = ServerStatus(base, health)
    if health in ("ready", "no-health"):
        try:
            st.models = list_models(base, api_key, timeout=timeout)
        except (ConnectionError, PermissionError, ValueError) as exc:
            st.error = str(exc)
        if metrics and health == "ready":
            st.metrics = fetch_metrics(base, timeout=timeout)
    return st


def wait_ready(base_url: str, api_key: str | None = None, *, timeout: float = 600.0, interval: float = 0.2,
               job: tuple[Workspace, str] | None = None) -> ServerStatus:
    """Poll until the server answers ready (or *timeout*, or the job given as (workspace, id) ends)."""
    deadline = time.monotonic() + timeout
    while True:
        st = server_status(base_url, api_key, timeout=min(2.0, interval * 5), metrics=False)
        if st.ready or time.monotonic() >= deadline:
            return st
        if job is not None and get_job(*job).finished:
            return st
        time.sleep(interval)


@dataclass
class Endpoint:
    """A ready server the eval screen can offer: base URL, model names and key."""

    base_url: str
    models: list[str]
    api_key: str | None
    job_id: str | None = None


def ready_endpoints(workspace: Workspace, *, timeout: float = 0.5) -> list[Endpoint]:
    """The workspace's running serve jobs that answer ready, newest first."""
    out = []
    key = workspace_api_key(workspace, create=False)
    for job in list_jobs(workspace, kind="serve"):
        if not job.active or not job.url:
            continue
        st = server_status(job.url, key, timeout=timeout, metrics=False)
        if st.ready:
            names = [m.id for m in st.models] or list(job.meta.get("models") or [])
            out.append(Endpoint(job.url, names, key if job.meta.get("api_key_file") else None, job.id))
    return out
