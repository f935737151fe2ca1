"""Asking a server how it is: /health, /v1/models, /metrics together, waiting for ready, ready endpoints."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from mathbench.core.jobs.control import job_pids
from mathbench.core.jobs.registry import Job, get_job, list_jobs
from mathbench.core.jobs.serving.http import api_base, http_get, root_url
from mathbench.core.jobs.serving.launch import workspace_api_key
from mathbench.core.jobs.serving.metrics import MetricsSnapshot, fetch_metrics
from mathbench.core.jobs.tree import describe_pid, port_holders
from mathbench.core.workspace import Workspace

def probe_health(base_url: str, *, timeout: float = 2.0) -> str:
    """`ready` (/health 200), `unhealthy` (503: engine dead), `no-health` (no such route), or `down` (unreachable)."""
    try:
        status, _ = http_get(root_url(base_url) + "/health", timeout=timeout)
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
        status, body = http_get(api_base(base_url) + "/models", api_key=api_key, timeout=timeout)
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




@dataclass
class ServerStatus:
    """One look at a server: health, models, metrics (any part None when unavailable)."""

    base_url: str
    health: str
    models: list[ModelInfo] = field(default_factory=list)
    metrics: MetricsSnapshot | None = None
    error: str | None = None
    not_ours: str | None = None  # why the answering server is not the one launched, when it is not

    @property
    def ready(self) -> bool:
        if self.not_ours:
            return False
        return self.health == "ready" or (self.health == "no-health" and bool(self.models))

    def to_dict(self) -> dict:
        return {
            "base_url": self.base_url, "health": self.health, "ready": self.ready, "not_ours": self.not_ours,
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


def _port_of(base_url: str) -> int | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(base_url).port
    except ValueError:
        return None


def check_is_job_server(st: ServerStatus, job: Job, expect_models: list[str] | None = None) -> ServerStatus:
    """Mark *st* not ours unless the job is live, holds the port, and serves every model name asked for."""
    if not job.active:
        st.not_ours = f"job {job.id} is {job.state}"
        return st
    port = _port_of(st.base_url)
    holders = port_holders(port) if port else []
    if holders and not set(holders) & set(job_pids(job)):
        st.not_ours = (f"the server answering on port {port} is not job {job.id}: "
                       + ", ".join(describe_pid(p) for p in holders))
        return st
    if st.health in ("ready", "no-health") and expect_models:
        served = {m.id for m in st.models}
        missing = [m for m in expect_models if m not in served]
        if missing:
            st.not_ours = (f"the server on port {port} does not serve {', '.join(missing)} "
                           f"(it serves {', '.join(sorted(served)) or 'nothing'})")
    return st


def wait_ready(base_url: str, api_key: str | None = None, *, timeout: float = 600.0, interval: float = 0.2,
               job: tuple[Workspace, str] | None = None, expect_models: list[str] | None = None) -> ServerStatus:
    """Poll until the server answers ready (or *timeout*, or the job given as (workspace, id) ends).

    With *job*, ready means the answering server is that live job's own process serving *expect_models*
    (by default the names the job was launched to serve), not another server on the same port.
    """
    deadline = time.monotonic() + timeout
    while True:
        st = server_status(base_url, api_key, timeout=min(2.0, interval * 5), metrics=False)
        rec = get_job(*job) if job is not None else None
        if rec is not None and st.health != "down":
            check_is_job_server(st, rec, expect_models if expect_models is not None
                                else list(rec.meta.get("models") or []))
        if st.ready or time.monotonic() >= deadline:
            return st
        if rec is not None and rec.finished:
            st.not_ours = st.not_ours or f"job {rec.id} is {rec.state}"
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
