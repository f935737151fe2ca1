"""vLLM (or llamafactory-cli api) serving: the launch, the server's log, its /metrics, and probes of a live server."""

from mathbench.core.jobs.serving.http import api_base, root_url
from mathbench.core.jobs.serving.launch import (
    API_KEY_FILE, DEFAULT_PORT, ServeError, ServeLaunch, api_key_path, launch_server, parse_lora, prepare_serve, preview_serve, start_server,
    vllm_command, workspace_api_key,
)
from mathbench.core.jobs.serving.log import ServerLog, StatsPoint, parse_stats_line
from mathbench.core.jobs.serving.metrics import (
    MetricsPoint, MetricsSnapshot, MetricsTracker, Sample, fetch_metrics, parse_metrics, summarize_metrics,
)
from mathbench.core.jobs.serving.probe import (
    Endpoint, ModelInfo, ServerStatus, check_is_job_server, list_models, probe_health, ready_endpoints, server_status, wait_ready,
)

__all__ = [
    "API_KEY_FILE", "DEFAULT_PORT", "Endpoint", "MetricsPoint", "MetricsSnapshot", "MetricsTracker", "ModelInfo",
    "Sample", "ServeError", "ServeLaunch", "ServerLog", "ServerStatus", "StatsPoint", "api_base", "api_key_path", "check_is_job_server",
    "fetch_metrics", "launch_server", "list_models", "parse_lora", "parse_metrics", "parse_stats_line", "prepare_serve", "preview_serve",
    "probe_health", "ready_endpoints", "root_url", "server_status", "start_server", "summarize_metrics",
    "vllm_command", "wait_ready", "workspace_api_key",
]
