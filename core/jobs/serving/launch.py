"""Launching a server: the workspace's API key, `vllm serve` / `llamafactory-cli api` command lines, the job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from mathbench.core.jobs.registry import Job, new_secret, reserve_job, start_job
from mathbench.core.jobs.training.config import render_config
from mathbench.core.storage import atomic_write_text
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
    key = "mb-" + new_secret(24)
    atomic_write_text(path, key + "\n", mode=0o600)
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

