"""`mathbench train`, `serve`, `jobs [attach|stop]` and `gpu`: detached jobs and the GPU from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the train, serve, jobs and gpu commands."""
    p = subparsers.add_parser(
        "train", help="start LLaMA-Factory training as a detached job",
        description="Render a LLaMA-Factory YAML template (or your own YAML) with key=value overrides and start "
        "`llamafactory-cli train` as a detached job; prints the job id. Placeholders: model_path, dataset, "
        "dataset_dir, output_dir, epochs, lr, batch, cutoff (merge_lora: adapter_path, export_dir). "
        "Templates: lora_sft, full_sft, lora_sft_ds3, merge_lora.",
    )
    p.add_argument("config", metavar="CONFIG.yaml", help="a template name (lora_sft, ...) or a YAML file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="placeholder values or any LLaMA-Factory key")
    p.add_argument("--gpus", default=None, help="CUDA_VISIBLE_DEVICES, e.g. 0,1 (more than one uses torchrun)")
    p.add_argument("--nnodes", type=int, default=1, help="number of nodes (multi-node through torchrun)")
    p.add_argument("--node-rank", type=int, default=0, help="this node's rank (0 = master)")
    p.add_argument("--master-addr", default=None, help="address of the rank-0 node")
    p.add_argument("--master-port", type=int, default=None, help="torchrun port (multi-node default 29500)")
    p.add_argument("--nproc-per-node", type=int, default=None, help="processes per node (default: GPU count)")
    p.add_argument("--no-llamaboard", action="store_true",
                   help="no LlamaBoard mode: no running_log.txt, stop by SIGTERM instead of SIGABRT")
    p.add_argument("--dry-run", action="store_true", help="print the rendered config and command, start nothing")
    p.add_argument("--json", action="store_true", help="print the job as JSON")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser(
        "serve", help="start a vLLM (or llamafactory-cli api) server as a detached job",
        description="Start `vllm serve MODEL` (loopback, the workspace's API key, --generation-config vllm) "
        "or `llamafactory-cli api` as a detached job; prints the job id and the base URL.",
    )
    p.add_argument("model", metavar="MODEL", help="model path or hub id (e.g. a merged export_dir)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--served-model-name", default=None, help="the model id clients send")
    p.add_argument("-tp", "--tensor-parallel-size", type=int, default=1, dest="tp")
    p.add_argument("--lora", action="append", default=[], metavar="NAME=PATH", help="serve a LoRA adapter (repeatable)")
    p.add_argument("--engine", choices=("vllm", "llamafactory"), default="vllm")
    p.add_argument("--gpus", default=None, help="CUDA_VISIBLE_DEVICES")
    p.add_argument("--max-model-len", default=None)
    p.add_argument("--gpu-memory-utilization", type=float, default=None)
    p.add_argument("--generation-config", default="vllm", help="vllm (default: sampling is what the client sends) or auto")
    p.add_argument("--no-api-key", action="store_true", help="serve without an API key")
    p.add_argument("--wait", action="store_true", help="wait until the server answers ready")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to --wait")
    p.add_argument("--json", action="store_true", help="print the job as JSON")
    p.add_argument("--server-args", default="", metavar="ARGS",
                   help="more arguments for the server, one quoted string (e.g. \"--max-num-seqs 64\")")
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser(
        "jobs", help="list detached jobs; attach to one; stop one",
        description="With no action, list the workspace's jobs (id, kind, state, progress).",
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.add_argument("--all", action="store_true", help="show every job (default: the 20 newest)")
    p.set_defaults(func=cmd_jobs)
    sub = p.add_subparsers(dest="jobs_action", metavar="ACTION")
    a = sub.add_parser("attach", help="follow a job's log (Ctrl-C detaches; the job keeps running)")
    a.add_argument("id", metavar="ID")
    a.add_argument("-n", "--lines", type=int, default=20, help="lines of backlog to show first")
    a.set_defaults(func=cmd_attach)
    s = sub.add_parser("stop", help="stop a job: graceful signal first, SIGKILL after the grace period")
    s.add_argument("id", metavar="ID")
    s.add_argument("--grace", type=float, default=30.0, help="seconds before escalating to SIGKILL")
    s.add_argument("--signal", default=None, help="graceful signal (default: the job's own, e.g. SIGABRT for training)")
    s.add_argument("--kill", action="store_true", help="SIGKILL at once")
    s.set_defaults(func=cmd_stop)
    sh = sub.add_parser("show", help="one job's record, progress and log tail")
    sh.add_argument("id", metavar="ID")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=cmd_show)

    p = subparsers.add_parser(
        "gpu", help="GPU utilisation, memory, temperature, power and processes (NVML)",
        description="Without options, a table refreshed every --interval seconds until Ctrl-C.",
    )
    p.add_argument("--once", action="store_true", help="one line, fit for a tmux status bar")
    p.add_argument("--json", action="store_true", help="one JSON snapshot")
    p.add_argument("--interval", type=float, default=2.0)
    p.set_defaults(func=cmd_gpu)


def _workspace(args: argparse.Namespace, *, create: bool = True):
    from mathbench.core.workspace import Workspace, open_workspace

    path = Path(getattr(args, "workspace", None) or os.getcwd())
    return open_workspace(path) if create else Workspace(path.expanduser().resolve())


def _err(cmd: str, exc: Exception) -> int:
    print(f"mathbench {cmd}: {exc}", file=sys.stderr)
    return 2


def _show_preflight(pre, *, stream=sys.stderr) -> None:
    """The exact command, what was adjusted for this machine, and what stands in the way."""
    print(f"  command: {pre.command_line()}", file=stream)
    for note in pre.notes:
        print(f"  note: {note}", file=stream)
    for check in pre.warnings:
        print(f"  warning: {check.text()}", file=stream)
    for check in pre.problems:
        print(f"  cannot launch: {check.text()}", file=stream)


def cmd_train(args: argparse.Namespace) -> int:
    """Start (or --dry-run) a training job."""
    from mathbench.core.jobs.preflight import PreflightError
    from mathbench.core.jobs.training import ConfigError, launch_training, prepare_training

    ws = _workspace(args)
    kw = dict(gpus=args.gpus, nnodes=args.nnodes, node_rank=args.node_rank, master_addr=args.master_addr,
              master_port=args.master_port, nproc_per_node=args.nproc_per_node, llamaboard=not args.no_llamaboard)
    try:
        launch = prepare_training(ws, args.config, args.overrides, dry=args.dry_run, **kw)
        if args.dry_run:
            print(launch.text, end="")
            env = " ".join(f"{k}={v}" for k, v in launch.env.items())
            print(f"# {env} {' '.join(launch.argv)}")
            _show_preflight(launch.preflight)
            return 0
        _show_preflight(launch.preflight)
        job = launch_training(ws, launch, args.config)
    except (ConfigError, PreflightError, OSError) as exc:
        return _err("train", exc)
    return _print_started(job, args)


def _print_started(job, args) -> int:
    from mathbench.core.jobs.progress import job_summary

    if args.json:
        print(json.dumps(job_summary(job), indent=2))
    else:
        print(job.id)
        where = f"output {job.output_dir}" if job.output_dir else (f"url {job.url}" if job.url else "")
        print(f"  {job.state}; log {job.log_path}; {where}".rstrip("; "), file=sys.stderr)
        print(f"  watch: mathbench jobs attach {job.id}    stop: mathbench jobs stop {job.id}", file=sys.stderr)
    return 0 if job.state != "failed" else 1


def cmd_serve(args: argparse.Namespace) -> int:
    """Start a server job (and --wait for it: ready only when our own job answers with the model asked for)."""
    import shlex

    from mathbench.core.jobs.preflight import PreflightError
    from mathbench.core.jobs.serving import ServeError, launch_server, prepare_serve, server_status, wait_ready
    from mathbench.core.jobs.serving import workspace_api_key

    ws = _workspace(args)
    extra = shlex.split(args.server_args) if args.server_args else []
    try:
        launch = prepare_serve(
            ws, args.model, engine=args.engine, host=args.host, port=args.port,
            served_model_name=args.served_model_name, tensor_parallel_size=args.tp, lora=args.lora, gpus=args.gpus,
            api_key=not args.no_api_key, generation_config=args.generation_config, max_model_len=args.max_model_len,
            gpu_memory_utilization=args.gpu_memory_utilization, extra=extra,
        )
        _show_preflight(launch.preflight)
        job = launch_server(ws, launch, args.model)
    except (ServeError, PreflightError, OSError) as exc:
        return _err("serve", exc)
    rc = _print_started(job, args)
    if args.wait and rc == 0:
        key = None if args.no_api_key else workspace_api_key(ws)
        st = wait_ready(job.url, key, timeout=args.timeout, job=(ws, job.id))
        if not st.ready:
            why = st.not_ours or st.health
            print(f"mathbench serve: {job.url} not ready ({why})", file=sys.stderr)
            return 1
        st = server_status(job.url, key)
        print(f"  ready: {job.url} models: {', '.join(m.id for m in st.models)}", file=sys.stderr)
    return rc


def _progress_text(d: dict) -> str:
    p = d.get("progress") or {}
    return p.get("text") or ""


def cmd_jobs(args: argparse.Namespace) -> int:
    """List jobs."""
    from mathbench.core.jobs.progress import job_summary
    from mathbench.core.jobs.registry import list_jobs

    ws = _workspace(args, create=False)
    jobs = list_jobs(ws)
    if not args.all:
        jobs = jobs[:20]
    rows = [job_summary(j) for j in jobs]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no jobs in {ws.jobs_dir}")
        return 0
    print(f"{'ID':<26} {'KIND':<6} {'STATE':<10} {'STARTED':<16} PROGRESS")
    for d in rows:
        state = "stopping" if d["state"] == "running" and d.get("stop_requested") else d["state"]
        if d["state"] in ("failed", "stopped") and d["exit_code"] is not None:
            state += f" ({d['exit_code']})"
        started = time.strftime("%m-%d %H:%M:%S", time.localtime(d["start"])) if d["start"] else ""
        print(f"{d['id']:<26} {d['kind']:<6} {state:<10} {started:<16} {_progress_text(d)}")
        if d["state"] == "failed":
            if d.get("error"):
                print(f"    {d['error']}")
            for line in d["log_tail"]:
                print(f"    | {line}")
    return 0


def _find(args: argparse.Namespace):
    """The workspace and the job named by args.id (None after printing why)."""
    from mathbench.core.jobs.registry import JobError, get_job

    ws = _workspace(args, create=False)
    try:
        return ws, get_job(ws, args.id)
    except JobError as exc:
        _err(f"jobs {args.jobs_action}", exc)
        return ws, None


def cmd_show(args: argparse.Namespace) -> int:
    """Show one job."""
    from mathbench.core.jobs.progress import job_summary
    from mathbench.core.jobs.registry import tail_log

    ws, job = _find(args)
    if job is None:
        return 2
    d = job_summary(job, tail=20)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    for k in ("start", "end"):
        if d.get(k):
            d[k] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d[k]))
    for k in ("id", "kind", "state", "exit_code", "error", "pid", "start", "end", "output_dir", "url", "log"):
        if d.get(k) is not None:
            print(f"{k:>10}: {d[k]}")
    print(f"{'command':>10}: {' '.join(job.command)}")
    if d["progress"]:
        print(f"{'progress':>10}: {d['progress']['text']}")
    for line in tail_log(job, 20):
        print(f"    | {line}")
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    """Follow a job's log until it ends or Ctrl-C (which only detaches)."""
    from mathbench.core.jobs.registry import follow_log, get_job

    ws, job = _find(args)
    if job is None:
        return 2
    print(f"[attached to {job.id} ({job.state}); Ctrl-C detaches, the job keeps running]", file=sys.stderr)
    try:
        for line in follow_log(job, backlog=args.lines):
            print(line, flush=True)
    except KeyboardInterrupt:
        print(f"\n[detached from {job.id}; it keeps running]", file=sys.stderr)
        return 0
    except BrokenPipeError:
        return 0
    job = get_job(ws, job.id)
    code = "" if job.exit_code is None else f" (exit code {job.exit_code})"
    print(f"[{job.id} {job.state}{code}]", file=sys.stderr)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop a job, escalating to SIGKILL after the grace period."""
    from mathbench.core.jobs import JobError, get_job, kill_job, stop_job

    ws = _workspace(args, create=False)
    try:
        job = get_job(ws, args.id)
        if not job.active:
            print(f"{job.id} is not running ({job.state})")
            return 0
        job = kill_job(ws, job.id) if args.kill else stop_job(ws, job.id, grace=args.grace, sig=args.signal)
    except JobError as exc:
        return _err("jobs stop", exc)
    code = "" if job.exit_code is None else f" (exit code {job.exit_code})"
    print(f"{job.id} {job.state}{code}")
    return 0 if job.finished else 1


def cmd_gpu(args: argparse.Namespace) -> int:
    """Print the GPU state: a status line, JSON, or a refreshing table."""
    from mathbench.core.jobs.gpu import snapshot, status_line, table_lines

    if args.json:
        print(json.dumps(snapshot().to_dict(), indent=2))
        return 0
    if args.once:
        print(status_line())
        return 0
    try:
        while True:
            snap = snapshot()
            if sys.stdout.isatty():
                print("\033[H\033[J", end="")
            print(time.strftime("%H:%M:%S"), *table_lines(snap), sep="\n", flush=True)
            if not snap.available or args.interval <= 0:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
