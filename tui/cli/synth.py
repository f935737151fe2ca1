"""`mathbench synth`: teacher-model synthesis of PoT items (scheme 3 from known pairs, scheme 1 from topics)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `synth` command."""
    p = sub.add_parser(
        "synth", help="synthesize PoT training items with a teacher model, kept only when the executed answer is right",
        description="Scheme 3 (--pairs): the teacher solves known (question, answer) pairs with few-shot PoT; "
        "an item is kept when its code ran and its final answer matches the known answer and the printed "
        "output. Scheme 1 (--topic): the teacher invents problems with answers, then solves them afresh; kept "
        "when the two agree (self-consistency, not ground truth). Output: ShareGPT JSONL, appended and "
        "fsynced per item; re-running resumes.",
    )
    p.add_argument("--pairs", help="JSONL/JSON of question+answer pairs (e.g. GSM8K train) -> scheme 3")
    p.add_argument("--topic", action="append", dest="topics", help="topic for new problems -> scheme 1 (repeatable)")
    p.add_argument("--count", type=int, default=10, help="scheme 1: problems per topic (default 10)")
    p.add_argument("--difficulty", default="medium", help="scheme 1: difficulty words for the prompt")
    p.add_argument("--base-url", action="append", dest="base_urls", metavar="URL", required=True,
                   help="OpenAI-compatible base URL; repeat to spread the load")
    p.add_argument("--model", "-m", required=True, help="teacher model name")
    p.add_argument("--out", "-o", required=True,
                   help="output: FILE.jsonl (appended), or FILE.json (written when complete, log in FILE.jsonl)")
    p.add_argument("--concurrency", "-c", type=int, default=16, help="requests in flight (default 16)")
    p.add_argument("--limit", "-n", type=int, default=None, help="scheme 3: only the first N pairs")
    p.add_argument("--fewshot", default=None, help="ShareGPT dataset to draw few-shot examples from "
                   "(default: the shipped examples)")
    p.add_argument("--shots", type=int, default=2, help="few-shot examples per request (default 2; 0 for none)")
    p.add_argument("--dedupe-against", action="append", default=[], metavar="FILE",
                   help="dataset whose problems are skipped (normalised text); repeatable")
    p.add_argument("--prompt", default="zh", help="prompt template: zh (default), en, or a YAML file")
    p.add_argument("--observation-from", default="human", choices=("human", "observation"),
                   help="role of the code-output turn in saved items (default human, as the seed did)")
    p.add_argument("--max-rounds", type=int, default=1, help="code blocks run per problem (default 1)")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-tokens", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0, help="sampling seed and few-shot draw seed")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    p.add_argument("--api-key", default=None, help="API key (else $MATHBENCH_API_KEY or $OPENAI_API_KEY)")
    p.add_argument("--json", action="store_true", help="no progress bar; print the summary as JSON")
    p.set_defaults(func=cmd_synth)


def cmd_synth(args: argparse.Namespace) -> int:
    """Run or resume a synthesis job; exit 0 when every input was handled."""
    import asyncio
    import json
    import sys

    from mathbench.core.evaluation.client import Sampling
    from mathbench.core.datasets.synth import ItemAccepted, ItemRejected, SynthConfig, SynthError, SynthFinished, SynthStarted, run_synth

    if bool(args.pairs) == bool(args.topics):
        print("mathbench synth: give either --pairs (scheme 3) or --topic (scheme 1)", file=sys.stderr)
        return 2
    cfg = SynthConfig(
        out=args.out, base_urls=args.base_urls, model=args.model, pairs=args.pairs, topics=args.topics,
        count=args.count, difficulty=args.difficulty, fewshot=args.fewshot, shots=args.shots, limit=args.limit,
        dedupe_against=args.dedupe_against, prompt=args.prompt, observation_from=args.observation_from,
        max_rounds=args.max_rounds, concurrency=args.concurrency, timeout=args.timeout, api_key=args.api_key,
        seed=args.seed, sampling=Sampling(temperature=args.temperature, top_p=args.top_p,
                                          max_tokens=args.max_tokens, seed=args.seed),
    )
    state: dict = {"final": None}
    progress_cm = None
    if args.json:
        def on_event(event) -> None:
            if isinstance(event, SynthFinished):
                state["final"] = event
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console()
        progress_cm = Progress(TextColumn("[bold]synth"), BarColumn(), MofNCompleteColumn(),
                               TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=console)
        box: list = []

        def stats(p) -> str:
            return f"kept {p.accepted}  rejected {p.rejected}  errors {p.errors}  dup {p.skipped_duplicates}"

        def on_event(event) -> None:
            if isinstance(event, SynthStarted):
                console.print(f"scheme {event.scheme} -> {event.out}: {event.total} inputs, {event.already_done} "
                              f"done, {event.skipped_duplicates} duplicates skipped, {event.pending} to go")
                box.append(progress_cm.add_task("synth", total=event.total,
                                                completed=event.already_done + event.skipped_duplicates,
                                                stats=""))
            elif isinstance(event, ItemAccepted | ItemRejected) and box:
                p = event.progress
                progress_cm.update(box[0], completed=p.accepted + p.rejected + p.errors + p.skipped_duplicates,
                                   stats=stats(p))
            elif isinstance(event, SynthFinished):
                state["final"] = event

    try:
        if progress_cm is not None:
            with progress_cm:
                asyncio.run(run_synth(cfg, on_event))
        else:
            asyncio.run(run_synth(cfg, on_event))
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except (SynthError, ValueError, OSError) as exc:
        print(f"mathbench synth: {exc}", file=sys.stderr)
        return 2
    final = state["final"]
    if final is None:
        return 1
    summary = dict(final.summary.to_dict(), out=str(final.out), complete=final.complete)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"kept {summary['accepted']} of {summary['total']} ({summary['rejected']} rejected, "
              f"{summary['errors']} errors, {summary['skipped_duplicates']} duplicates) -> {summary['out']}")
        if summary["errors"]:
            print("errored items are retried when the same command is run again")
    return 0 if final.complete else 1
