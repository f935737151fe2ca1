"""Launching LLaMA-Factory: the rendered config in the job folder, the command line and its environment."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mathbench.core.jobs.preflight import Check, Preflight, executable_check, gpu_count
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
    preflight: Preflight | None = None
    text: str = ""  # the rendered YAML


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
    dry: bool = False,
) -> TrainLaunch:
    """Render the config into a new job folder and build the launch command and environment.

    With no GPU visible, a training config gets `use_cpu: true` (LLaMA-Factory refuses to train on a
    CPU otherwise) and torchrun is never forced; what cannot work is in `preflight.problems`.
    With *dry*, nothing is written (a preview: the job id and folder are only what they would be).

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
    job_id = f"train-{time.strftime('%m%d-%H%M%S')}" if dry else reserve_job(workspace, "train")
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
        if not dry:
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

    env: dict[str, str] = {"DISABLE_VERSION_CHECK": "1"}
    if gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
    checks: list[Check] = []
    notes: list[str] = []
    missing = executable_check(executable, "train")
    if missing:
        checks.append(missing)
    n_gpus = gpu_count(env)
    if subcommand == "train" and n_gpus == 0:
        if cfg.get("deepspeed"):
            checks.append(Check("DeepSpeed needs GPUs and none is visible", "pass deepspeed=null to train on the CPU"))
        if not cfg.get("use_cpu"):
            cfg["use_cpu"] = True
            text = _set_top_key(text, "use_cpu", True, add=True)
            notes.append("no GPU visible: use_cpu: true added (LLaMA-Factory refuses to train on a CPU without it)")
        if cfg.get("bf16") and not _cpu_has_bf16():
            checks.append(Check("bf16 on this CPU is emulated and many times slower than fp32",
                                "bf16=false trains in fp32", blocking=False))
    if not dry:
        cfg_path = jdir / CONFIG_NAME
        cfg_path.write_text(text, encoding="utf-8")
    else:
        cfg_path = jdir / CONFIG_NAME
    multi = len(gpu_ids) > 1 or nnodes > 1 or bool(cfg.get("deepspeed"))
    if force_torchrun and n_gpus == 0 and subcommand == "train":
        checks.append(Check("FORCE_TORCHRUN with no GPU starts torchrun with --nproc_per_node 0, which fails",
                            "train without torchrun on a CPU"))
    elif force_torchrun or (force_torchrun is None and multi and subcommand == "train" and n_gpus > 0):
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
    pre = Preflight(argv, env, checks, notes)
    return TrainLaunch(job_id, argv, env, cfg_path, output_dir, cfg, subcommand, stop_signal, pre, text)


def _cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX); unknown counts as yes."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), None)
    return flags is None or "avx512_bf16" in flags or "amx_bf16" in flags


def _set_top_key(text: str, key: str, value: Any, *, add: bool = False) -> str:
    lines = text.splitlines()
    found = False
    for i, line in enumerate(lines):
        m = TOP_KEY_RE.match(line)
        if m and m.group(1) == key:
            lines[i] = f"{key}: {yaml_scalar(value)}"
            found = True
    if add and not found:
        lines += ["", "### set by mathbench for this machine", f"{key}: {yaml_scalar(value)}"]
    return "\n".join(lines) + "\n"


def preview_training(workspace: Workspace, config: str | Path, overrides=None, **kwargs) -> TrainLaunch:
    """What `start_training` would run, with its preflight, writing nothing."""
    return prepare_training(workspace, config, overrides, dry=True, **kwargs)


def start_training(workspace: Workspace, config: str | Path, overrides=None, **kwargs) -> Job:
    """Render the config and start `llamafactory-cli train` (or `export`) as a detached job.

    Raises PreflightError (writing nothing) when the launch cannot work here.
    """
    return launch_training(workspace, prepare_training(workspace, config, overrides, **kwargs), config)


def launch_training(workspace: Workspace, launch: TrainLaunch, config: str | Path) -> Job:
    """Start a prepared launch as a detached job, or raise PreflightError and remove its folder."""
    if launch.preflight is not None and not launch.preflight.ok:
        shutil.rmtree(launch.config_path.parent, ignore_errors=True)
        launch.preflight.raise_if_blocked()
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
