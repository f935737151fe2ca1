"""Launching LLaMA-Factory: the rendered config in the job folder, the command line and its environment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mathbench.core.jobs.registry import Job, reserve_job, start_job
from mathbench.core.jobs.training.config import (
    ALIASES, CONFIG_NAME, TOP_KEY_RE, ConfigError, load_config_text, parse_overrides, placeholders, render_config, template_path,
    yaml_scalar,
)
from mathbench.core.workspace import Workspace

# ---------------------------------------------------------------- launch


@dataclass
class TrainLaunch:
    """Everything `llamafactory-cli train` gets: its argv, environment, config file and output dir."""

    job_id: str
    argv: list[str]
    env: dict[str, str]
    config_path: Path
    output_dir: Path
    config: dict
    subcommand: str
    stop_signal: str


def _gpu_list(gpus: str | Iterable[int] | None) -> list[str]:
    if gpus is None or gpus == "":
        return []
    if isinstance(gpus, str):
        parts = [g.strip() for g in gpus.split(",") if g.strip()]
    else:
        parts = [str(g) for g in gpus]
    for g in parts:
        if not re.match(r"^(\d+|GPU-[0-9a-fA-F-]+|MIG-[\w/-]+)$", g):
            raise ConfigError(f"--gpus: {g!r} is not a GPU index or UUID")
    return parts


def prepare_training(
    workspace: Workspace,
    config: str | Path,
    overrides: Iterable[str] | dict | None = None,
    *,
    gpus: str | Iterable[int] | None = None,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str | None = None,
    master_port: int | None = None,
    nproc_per_node: int | None = None,
    llamaboard: bool = True,
    force_torchrun: bool | None = None,
    executable: str = "llamafactory-cli",
) -> TrainLaunch:
    """Render the config into a new job folder and build the launch command and environment.

    Placeholders not given default to: dataset_dir = the workspace's exports folder,
    output_dir = <workspace>/train/<job id>. LlamaBoard mode (running_log.txt, SIGABRT = clean stop)
    is on unless llamaboard=False.
    """
    ov = parse_overrides(overrides)
    gpu_ids = _gpu_list(gpus)
    if nnodes < 1 or not (0 <= node_rank < nnodes):
        raise ConfigError(f"--nnodes {nnodes} --node-rank {node_rank}: the rank must be in 0..nnodes-1")
    if nnodes > 1 and not master_addr:
        raise ConfigError("--master-addr is needed when --nnodes > 1 (the address of the rank-0 node)")
    tpath = template_path(config)
    if nnodes > 1 and "output_dir" not in {ALIASES.get(k, k) for k in ov} and "output_dir" in {
            p.name for p in placeholders(tpath)}:
        # Every rank writes its shards under output_dir: all nodes must name the same folder.
        raise ConfigError("with --nnodes > 1 give output_dir=... (the same path on every node)")
    job_id = reserve_job(workspace, "train")
    jdir = workspace.jobs_dir / job_id
    values: dict[str, Any] = {}
    names = {p.name for p in placeholders(tpath)}
    given = {ALIASES.get(k, k) for k in ov}
    if "dataset_dir" in names and "dataset_dir" not in given:
        values["dataset_dir"] = str(workspace.exports_dir)
    if "output_dir" in names and "output_dir" not in given:
        values["output_dir"] = str(workspace.train_dir / job_id)
    if "export_dir" in names and "export_dir" not in given:
        values["export_dir"] = str(workspace.exports_dir / "merged" / job_id)
    try:
        text = render_config(tpath, values, ov)
    except ConfigError:
        jdir.rmdir()
        raise
    cfg = load_config_text(text, str(tpath))
    for key in ("output_dir", "dataset_dir", "export_dir", "deepspeed"):
        v = cfg.get(key)
        if not isinstance(v, str) or not v or Path(v).is_absolute() or v.startswith(("ONLINE", "REMOTE:")):
            continue
        # LLaMA-Factory resolves relative paths against its cwd; pin them to the workspace.
        cfg[key] = str((workspace.root / v).resolve())
        text = _set_top_key(text, key, cfg[key])
    subcommand = "export" if "export_dir" in cfg and not cfg.get("stage") else "train"
    out_key = "export_dir" if subcommand == "export" else "output_dir"
    if not cfg.get(out_key):
        raise ConfigError(f"{tpath}: the config has no {out_key}")
    output_dir = Path(cfg[out_key])
    cfg_path = jdir / CONFIG_NAME
    cfg_path.write_text(text, encoding="utf-8")

    env: dict[str, str] = {"DISABLE_VERSION_CHECK": "1"}
    if gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
    multi = len(gpu_ids) > 1 or nnodes > 1 or bool(cfg.get("deepspeed"))
    if force_torchrun or (force_torchrun is None and multi and subcommand == "train"):
        env["FORCE_TORCHRUN"] = "1"
    if nnodes > 1:
        env.update(NNODES=str(nnodes), NODE_RANK=str(node_rank), MASTER_ADDR=str(master_addr),
                   MASTER_PORT=str(master_port or 29500))
    elif master_port:
        env["MASTER_PORT"] = str(master_port)
    if master_addr and nnodes == 1:
        env["MASTER_ADDR"] = str(master_addr)
    if nproc_per_node:
        env["NPROC_PER_NODE"] = str(nproc_per_node)
    stop_signal = "SIGTERM"
    if llamaboard and subcommand == "train":
        env["LLAMABOARD_ENABLED"] = "1"
        env["LLAMABOARD_WORKDIR"] = str(output_dir)
        stop_signal = "SIGABRT"
    argv = [executable, subcommand, str(cfg_path)]
    return TrainLaunch(job_id, argv, env, cfg_path, output_dir, cfg, subcommand, stop_signal)


def _set_top_key(text: str, key: str, value: Any) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = TOP_KEY_RE.match(line)
        if m and m.group(1) == key:
            lines[i] = f"{key}: {yaml_scalar(value)}"
    return "\n".join(lines) + "\n"


def start_training(workspace: Workspace, config: str | Path, overrides=None, **kwargs) -> Job:
    """Render the config and start `llamafactory-cli train` (or `export`) as a detached job."""
    launch = prepare_training(workspace, config, overrides, **kwargs)
    launch.output_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "config": str(launch.config_path),
        "template": str(template_path(config)),
        "stop_signal": launch.stop_signal,
        "subcommand": launch.subcommand,
        "model": launch.config.get("model_name_or_path"),
        "dataset": launch.config.get("dataset"),
        "title": f"{launch.subcommand} {Path(str(launch.config.get('model_name_or_path', ''))).name}".strip(),
    }
    return start_job(
        workspace, "train", launch.argv, env=launch.env, cwd=workspace.root, meta=meta,
        output_dir=launch.output_dir, job_id=launch.job_id,
    )

