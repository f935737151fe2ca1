"""`mathbench eval` (a PoT eval with a live progress bar) and `mathbench demo-server` (a scripted model)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `eval` and `demo-server` commands."""
    p = sub.add_parser(
        "eval", help="run or resume a PoT eval against OpenAI-compatible endpoints",
        description="Evaluate a model with Program-of-Thought: it writes code, mathbench runs it in the "
        "sandbox and shows it the output, the final \\boxed{} answer is graded. Results go to a run "
        "directory (manifest.json, results.jsonl); an existing run directory is resumed.",
    )
    p.add_argument("--benchmark", "-b", help="gsm8k, math, a JSONL/JSON/parquet FILE, or hf:NAME[:CONFIG][:SPLIT] "
                   "(may be left out when resuming a run directory)")
    p.add_argument("--base-url", action="append", dest="base_urls", metavar="URL",
                   help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1; repeat to spread the load")
    p.add_argument("--model", "-m", help="served model name (LLaMA-Factory's api serves gpt-3.5-turbo)")
    p.add_argument("--concurrency", "-c", type=int, default=None, help="requests in flight (default 16)")
    p.add_argument("--limit", "-n", type=int, default=None, help="only the first N problems")
    p.add_argument("--levels", default=None, help="MATH levels to keep, e.g. 1,2,3")
    p.add_argument("--subjects", default=None, help="MATH subjects to keep, comma-separated, e.g. Algebra,Geometry")
    p.add_argument("--shuffle-seed", type=int, default=None, help="shuffle the problems with this seed first")
    p.add_argument("--fields", default=None, metavar="NAME=KEY,...",
                   help="the benchmark file's own keys, e.g. question=Problem,answer=correct,choices=options "
                        "(names: question, answer, choices, id, level, subject); rows with choices are graded "
                        "as choice items with a gold letter")
    p.add_argument("--run-dir", default=None,
                   help="run directory (default <workspace>/runs/<benchmark>-<model>-<time>); resumed if it exists")
    p.add_argument("--api-key", default=None,
                   help="API key (else $MATHBENCH_API_KEY or $OPENAI_API_KEY); never written to disk")
    p.add_argument("--api-key-env", default=None, metavar="NAME",
                   help="read the API key from the environment variable NAME (the name may be saved, the key never is)")
    p.add_argument("--retry-errors", action="store_true",
                   help="re-run the items whose last attempt errored (resuming a run always does)")
    p.add_argument("--prompt", default=None, help="prompt template: zh (default), en, or a YAML file")
    p.add_argument("--max-rounds", type=int, default=None, help="code blocks run per problem (default 1)")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (default 0)")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling (default 1)")
    p.add_argument("--max-tokens", type=int, default=None, help="tokens per reply (default 2048)")
    p.add_argument("--seed", type=int, default=None, help="sampling seed sent with each request (default 0)")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="completions per problem, each graded on its own, for pass@k and maj@k (default 1; "
                   "with N > 1 the temperature defaults to 0.7)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds per request, one deadline for the whole reply, streamed or not (default 600)")
    p.add_argument("--down-wait", type=float, default=None, metavar="SECONDS",
                   help="when every endpoint stops answering, wait this long for one to come back before "
                   "stopping the run as incomplete (default 60)")
    p.add_argument("--max-reply-mb", type=float, default=None, metavar="MB",
                   help="a reply larger than this is an item error (default 1)")
    p.add_argument("--retry-after-max", type=float, default=None, metavar="SECONDS",
                   help="longest wait a server's Retry-After is honoured for (default 60)")
    p.add_argument("--max-retries", type=int, default=None, help="retries per request on 429/5xx/resets (default 5)")
    p.add_argument("--code-timeout", type=float, default=None, help="seconds per code block (default 10)")
    p.add_argument("--stream", action="store_true", help="stream replies (SSE)")
    p.add_argument("--json", action="store_true", help="no progress bar; print the summary as JSON")
    p.set_defaults(func=cmd_eval)

    d = sub.add_parser(
        "demo-server", help="serve a scripted PoT model over the OpenAI API (try the workbench without a GPU)",
        description="A loopback OpenAI-compatible chat server playing a PoT model: it answers GSM8K/MATH "
        "problems with code that computes the answer, and boxes whatever output it is shown.",
    )
    d.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    d.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    d.add_argument("--latency", type=float, default=0.2, help="seconds per reply (default 0.2)")
    d.add_argument("--model", default="demo-pot", help="model name it serves (default demo-pot)")
    d.add_argument("--accuracy", type=float, default=0.9,
                   help="share of problems it solves right (default 0.9)")
    d.add_argument("--buggy-rate", type=float, default=0.05,
                   help="share of problems whose first block raises and is fixed next round (default 0.05)")
    d.add_argument("--preamble", default="", help="code put before every block, e.g. 'import sympy as sp'")
    d.add_argument("--fail-rate", type=float, default=0.0, help="share of requests answered with a fault")
    d.add_argument("--fail-kinds", default="500",
                   help="faults drawn at --fail-rate: 500,503,429,reset,slow,garbage,empty,stream-reset, trickle (one "
                   "byte a second), endless (a reply that never ends), huge (a 2 MB reply), retry-after")
    d.add_argument("--retry-after", type=float, default=1.0, metavar="SECONDS",
                   help="the Retry-After the retry-after fault asks for (default 1)")
    d.add_argument("--answer-key", action="append", default=None, metavar="BENCHMARK",
                   help="benchmarks whose answers it knows (default: sample, and gsm8k and math when on disk)")
    d.add_argument("--api-key", default=None, help="require this bearer key on /v1 routes")
    d.set_defaults(func=cmd_demo_server)


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _workspace(args: argparse.Namespace):
    """The workspace named (or the current folder) as paths only: it is made once a run has started, so a
    command that fails leaves the folder as it was."""
    from pathlib import Path

    from mathbench.core.workspace import Workspace

    return Workspace(Path(args.workspace or Path.cwd()).expanduser().resolve())


def build_config(args: argparse.Namespace):
    """EvalConfig from the command line; an existing run directory supplies what is not given."""
    from mathbench.core.evaluation.client import Sampling
    from mathbench.core.evaluation.runconfig import EvalConfig, EvalError, config_from_manifest
    from mathbench.core.evaluation.rundir import RunDir

    manifest = {}
    if args.run_dir and RunDir(args.run_dir).manifest_path.is_file():
        manifest = RunDir(args.run_dir).manifest
    if manifest:
        cfg = config_from_manifest(manifest)
        if args.benchmark:
            cfg.benchmark = args.benchmark
        if args.model:
            cfg.model = args.model
    else:
        if not args.benchmark or not args.model or not args.base_urls:
            raise EvalError("--benchmark, --base-url and --model are needed (unless --run-dir is a run to resume)")
        cfg = EvalConfig(benchmark=args.benchmark, base_urls=list(args.base_urls), model=args.model)
    if args.base_urls:
        cfg.base_urls = list(args.base_urls)
    if not cfg.base_urls:
        raise EvalError("no --base-url given and the run directory records none")
    if args.samples is not None:
        cfg.samples = args.samples
    given = {k: getattr(args, a) for k, a in (("temperature", "temperature"), ("top_p", "top_p"),
                                              ("max_tokens", "max_tokens"), ("seed", "seed"))
             if getattr(args, a) is not None}
    if given:
        s = cfg.effective_sampling()
        cfg.sampling = Sampling(**{**s.to_dict(), **given})
    if args.max_reply_mb is not None:
        cfg.max_reply_bytes = int(args.max_reply_mb * 1_000_000)
    for attr in ("concurrency", "limit", "shuffle_seed", "prompt", "max_rounds", "timeout", "max_retries",
                 "code_timeout", "down_wait", "retry_after_max"):
        value = getattr(args, attr)
        if value is not None:
            setattr(cfg, attr, value)
    if args.levels:
        from mathbench.core.evaluation.benchmarks import parse_level

        cfg.levels = [lv for lv in (parse_level(v) for v in _csv(args.levels) or []) if lv is not None]
    if args.subjects:
        cfg.subjects = _csv(args.subjects)
    if getattr(args, "fields", None):
        from mathbench.core.evaluation.benchmarks import parse_fields

        try:
            cfg.fields = parse_fields(args.fields)
        except ValueError as exc:
            raise EvalError(str(exc)) from None
    cfg.stream = bool(args.stream or cfg.stream)
    cfg.retry_errors = args.retry_errors
    cfg.api_key = args.api_key
    if args.api_key_env and not cfg.api_key:
        import os

        cfg.api_key = os.environ.get(args.api_key_env)
        if not cfg.api_key:
            raise EvalError(f"--api-key-env {args.api_key_env}: that environment variable is not set")
    # A workspace is only opened (created) when it is named or the default run dir must live in it.
    cfg.workspace = _workspace(args) if args.workspace or not args.run_dir else None
    cfg.run_dir = args.run_dir
    return cfg


def sandbox_notes(report: dict, api_key_on_argv: str | None) -> list[str]:
    """What the eval says about its sandbox at start: the protections line, and a warning where model code
    could read this process's command line (and so a key given with --api-key)."""
    from mathbench.core.sandbox.protections import protections_line

    notes = [protections_line(report)]
    if api_key_on_argv and "pid" not in (report.get("active") or ()):
        notes.append("--api-key is on this process's command line, which model code can list here "
                     "(no PID namespace): give the key in $MATHBENCH_API_KEY instead")
    return notes


def _fmt_secs(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _clock(t: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(t))


def progress_line(p) -> str:
    """Accuracy over graded items with its 95% interval, errors apart, throughput and ETA for one Progress."""
    acc = "acc   --  " if p.accuracy is None else (
        f"acc {p.accuracy:6.1%} [{100 * p.ci_low:.1f}–{p.ci_high:.1%}]")
    if p.down_since is not None:
        return f"{acc}  endpoint down since {_clock(p.down_since)}, retrying"
    rate = f"{p.rate:.1f}/s" if p.rate else "--/s"
    extra = f"  errors {p.errors}" if p.errors else ""
    extra += f"  retries {p.retries}" if p.retries else ""
    return f"{acc}  {rate}  ETA {_fmt_secs(p.eta)}{extra}"


def _outage_line(event) -> str | None:
    """What a pause or its end looks like on the terminal."""
    from mathbench.core.evaluation.progress import EndpointsCameBack, EndpointsWentDown

    if isinstance(event, EndpointsWentDown):
        return (f"endpoint down since {_clock(event.since)}, retrying; "
                f"the run stops as incomplete at {_clock(event.gives_up_at)} if none answers")
    if isinstance(event, EndpointsCameBack):
        return f"endpoint back after {_fmt_secs(event.down_for)}; going on"
    return None


def cmd_eval(args: argparse.Namespace) -> int:
    """Run or resume an eval; exit 0 only when every problem has a graded result (1: incomplete, 2: cannot run)."""
    import asyncio
    import json
    import sys

    from mathbench.core.evaluation.layout import RunLocked
    from mathbench.core.evaluation.progress import EndpointsWentDown, ItemFailed, ItemFinished, RunFinished, RunStarted
    from mathbench.core.evaluation.runconfig import EvalError
    from mathbench.core.evaluation.runner import run_eval

    try:
        cfg = build_config(args)
    except (EvalError, ValueError, OSError) as exc:
        print(f"mathbench eval: {exc}", file=sys.stderr)
        return 2

    state: dict = {"summary": None, "shown_errors": 0}
    if args.json:
        def on_event(event) -> None:
            if isinstance(event, RunStarted) and not event.manifest.get("sandbox", {}).get("complete", True):
                for note in sandbox_notes(event.manifest["sandbox"], args.api_key):
                    print(f"mathbench eval: {note}", file=sys.stderr)
            if isinstance(event, RunFinished):
                state["summary"] = event.summary
            elif (line := _outage_line(event)) is not None:
                print(line, file=sys.stderr, flush=True)

        progress_cm = None
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=False)
        progress_cm = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=console, transient=False,
        )
        task_box: list = []

        def on_event(event) -> None:
            if isinstance(event, RunStarted):
                verb = "resuming" if event.resumed else "writing"
                samples = event.manifest.get("samples") or 1
                what = f"{event.total // samples} problems x {samples} samples" if samples > 1 else \
                    f"{event.total} problems"
                console.print(f"{verb} [cyan]{event.run_dir}[/]: {what}, "
                              f"{event.already_done} already graded, {event.pending} to go")
                sandbox = event.manifest.get("sandbox") or {}
                for note in sandbox_notes(sandbox, args.api_key):
                    console.print(note, style=None if sandbox.get("complete") else "yellow", markup=False,
                                  highlight=False)
                task_box.append(progress_cm.add_task("eval", total=event.total, completed=event.already_done,
                                                     stats=progress_line(event.progress)))
            elif isinstance(event, ItemFinished | ItemFailed) and task_box:
                state["progress"] = event.progress
                progress_cm.update(task_box[0], completed=event.progress.done, stats=progress_line(event.progress))
                if isinstance(event, ItemFailed) and state["shown_errors"] < 5:
                    state["shown_errors"] += 1
                    console.print(f"[yellow]error[/] {event.record['id']}: {event.error}")
            elif isinstance(event, RunFinished):
                state["summary"] = event.summary
            elif (line := _outage_line(event)) is not None:
                console.print(f"[yellow]{line}[/]")
                if task_box:
                    shown = f"[yellow]{line.split(';')[0]}[/]" if isinstance(event, EndpointsWentDown) else \
                        progress_line(state["progress"]) if state.get("progress") else ""
                    progress_cm.update(task_box[0], stats=shown)

    report = on_event

    def on_event(event) -> None:  # noqa: F811 - the reporter above, after making the workspace real
        if isinstance(event, RunStarted) and cfg.workspace is not None:
            from mathbench.core.workspace import is_workspace, open_workspace

            if not is_workspace(cfg.workspace.root):
                open_workspace(cfg.workspace.root, sample=False)
        report(event)

    from mathbench.core.datasets.lineage import training_data

    # What is known of the model's training data (its export reports) goes into the manifest.
    known = training_data(cfg.model, cfg.workspace, near=cfg.run_dir)
    if known is not None:
        cfg.manifest_extra["training_data"] = known
        if known.get("warning"):
            print(f"warning: {cfg.model} was {known['warning']}", file=sys.stderr)

    async def main() -> None:
        await run_eval(cfg, on_event)

    try:
        if progress_cm is not None:
            with progress_cm:
                asyncio.run(main())
        else:
            asyncio.run(main())
    except KeyboardInterrupt:
        print(f"\ninterrupted; resume with: mathbench eval --run-dir {cfg.run_dir}", file=sys.stderr)
        return 130
    except (EvalError, RunLocked, ValueError, OSError) as exc:
        print(f"mathbench eval: {exc}", file=sys.stderr)
        return 2
    summary = state["summary"]
    if summary is None:
        return 1
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False))
        if not summary.complete:
            print(_incomplete_line(summary), file=sys.stderr)
    else:
        _print_summary(summary)
    return 0 if summary.complete else 1


def _incomplete_line(summary) -> str:
    missing = summary.total - summary.done
    parts = [f"{n} {what}" for n, what in ((summary.errors, "errored"), (missing, "not run")) if n]
    why = f" ({summary.stopped_reason})" if summary.stopped_reason else ""
    return (f"run incomplete{why}: {', '.join(parts) or 'stopped early'}; resume with "
            f"`mathbench eval --run-dir {summary.run_dir}`")


def _print_summary(summary) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"eval {summary.run_dir.name}", show_header=False)
    acc = "--" if summary.accuracy is None else (
        f"{summary.accuracy:.2%} of {summary.graded} graded  (95% CI {summary.ci_low:.1%}–{summary.ci_high:.1%})")
    items = f"{summary.problems} x {summary.samples} samples" if summary.samples > 1 else str(summary.total)
    for key, value in (("problems", items), ("done", summary.done), ("graded", summary.graded),
                       ("correct", summary.correct), ("wrong", summary.wrong), ("uncertain", summary.uncertain),
                       ("errors (not graded)", summary.errors), ("accuracy", acc), ("status", summary.status),
                       ("this session", f"{summary.new_items} items in {_fmt_secs(summary.elapsed)}"),
                       ("retries", summary.retries), ("run dir", str(summary.run_dir))):
        table.add_row(key, str(value))
    console = Console()
    console.print(table)
    if not summary.complete:
        console.print(f"[yellow]{_incomplete_line(summary)}[/]")
    console.print(f"report: mathbench report {summary.run_dir}" + (" (pass@k and maj@k)" if summary.samples > 1 else ""))


def cmd_demo_server(args: argparse.Namespace) -> int:
    """Serve the scripted PoT model until interrupted."""
    import sys

    from mathbench.core.evaluation.benchmarks import BenchmarkError, answer_key, load_benchmark, resolve_spec
    from mathbench.core.demo import DemoServer, PotScript

    key: dict[str, str] = {}
    for spec in args.answer_key or ["sample", "gsm8k", "math"]:
        try:
            if not args.answer_key and isinstance(resolve_spec(spec), str):
                continue  # by default only benchmarks already on disk, never a download
            key.update(answer_key(load_benchmark(spec)))
        except (BenchmarkError, OSError) as exc:
            if args.answer_key:
                print(f"mathbench demo-server: {exc}", file=sys.stderr)
                return 2
    preamble = args.preamble.replace("\\n", "\n")
    if preamble and not preamble.endswith("\n"):
        preamble += "\n"
    script = PotScript(answer_key=key, accuracy=args.accuracy, buggy_rate=args.buggy_rate, preamble=preamble)
    try:
        server = DemoServer(script=script, latency=args.latency, fail_rate=args.fail_rate,
                            fail_kinds=_csv(args.fail_kinds) or ["500"], model=args.model, port=args.port,
                            host=args.host, api_key=args.api_key, retry_after=args.retry_after)
        server.start()
    except (OSError, ValueError) as exc:
        print(f"mathbench demo-server: {exc}", file=sys.stderr)
        return 2
    print(f"demo PoT model {args.model!r} at {server.base_url} (knows {len(key)} answers; Ctrl-C stops)")
    print(f"try: mathbench eval --benchmark sample --limit 20 --base-url {server.base_url} --model {args.model}",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
