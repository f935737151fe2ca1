"""`mathbench data decontaminate` and `data from-run`: SFT data measured against benchmarks, and misses made data."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    """Add `decontaminate` and `from-run` to the `data` command group."""
    p = sub.add_parser("decontaminate", help="find items whose problem repeats a benchmark problem",
                       description="Flags items that repeat a benchmark problem: exactly (after normalisation), "
                                   "by a shared 13-gram, or nearly (MinHash over character 5-grams; Chinese too).")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--against", required=True, metavar="NAME|FILE[,...]",
                   help="benchmarks: gsm8k, math, a JSONL/JSON/parquet file, hf:NAME, comma-separated")
    p.add_argument("--drop", metavar="OUT", help="write the items that are not flagged here (atomically)")
    p.add_argument("--show", type=int, default=20, metavar="N", help="hits printed (default 20; 0 for all)")
    p.add_argument("--json", action="store_true",
                   help='print {"items", "contaminated", "by_benchmark", "hits": [{"index", "benchmark", "id", '
                        '"kind", "score"}]}')
    p.set_defaults(func=_decontaminate)

    p = sub.add_parser("from-run", help="write a run's missed problems with gold answers as a pairs file for synth",
                       description="The problems a run got wrong, flipped (right in another run, not here) or left "
                                   "uncertain, with their gold answers, as JSON lines for `mathbench synth --pairs` "
                                   "(scheme 3). Each row carries source_run, problem_id and benchmark.")
    p.add_argument("run", metavar="RUN", help="a run directory, or its name in <workspace>/runs")
    p.add_argument("--which", choices=("wrong", "flipped", "uncertain"), default="wrong")
    p.add_argument("--compare", metavar="RUN_B", help="for --which flipped: the run they were right in "
                                                       "(default: the newest other run on the same benchmark)")
    p.add_argument("--out", required=True, metavar="FILE", help="the pairs file to write (JSON lines)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_from_run)


def workspace_of(args):
    """The workspace named by --workspace, else the current folder when it is one (never created here)."""
    from pathlib import Path

    from mathbench.core.workspace import Workspace, is_workspace

    root = Path(args.workspace) if getattr(args, "workspace", None) else Path.cwd()
    return Workspace(root.resolve()) if is_workspace(root) else None


def _decontaminate(args) -> int:
    from pathlib import Path

    from mathbench.core.datasets import Dataset, DatasetError, problem_text
    from mathbench.core.datasets.decontaminate import BenchmarkIndex, load_against
    from mathbench.core.evaluation.benchmarks import BenchmarkError

    try:
        ds = Dataset.load(args.file)
        benchmarks = load_against(args.against.split(","), workspace_of(args))
    except (DatasetError, BenchmarkError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not benchmarks:
        print("error: --against names no benchmark", file=sys.stderr)
        return 2
    report = BenchmarkIndex(benchmarks).scan([problem_text(it) for it in ds.items])
    flagged = set(report.contaminated)
    if args.drop:
        out = Path(args.drop)
        if out.resolve() == Path(args.file).resolve():
            print("error: --drop must not be the input file (it is kept as it is)", file=sys.stderr)
            return 2
        kept = [it for i, it in enumerate(ds.items) if i not in flagged]
        Dataset.from_items(kept, fmt=ds.fmt, layout=ds.layout).save(out, backup=False, force=True)
    if args.json:
        summary = report.summary()
        if args.drop:
            summary["drop"] = {"file": args.drop, "kept": len(ds) - len(flagged), "dropped": len(flagged)}
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    by = report.by_benchmark()
    print(f"{args.file}: {len(ds)} items, {len(flagged)} repeat a benchmark problem ("
          + ", ".join(f"{name} {by[name]} of {size} problems" for name, size in report.benchmarks.items()) + ")")
    shown = report.hits if args.show <= 0 else report.hits[:args.show]
    for h in shown:
        line = ds.line_of(h.index)
        where = f"{args.file}:{line}" if line else f"{args.file} item {h.index}"
        print(f"  {where} (item {h.index}): {h.kind} {h.score:.2f}  {h.benchmark} {h.id}")
        print(f"      item:      {_cut(problem_text(ds.items[h.index]))}")
        print(f"      benchmark: {_cut(h.question)}")
    if len(shown) < len(report.hits):
        print(f"  … {len(report.hits) - len(shown)} more (--show 0 for all, --json for every hit)")
    if args.drop:
        print(f"wrote {args.drop}: {len(ds) - len(flagged)} items ({len(flagged)} dropped)")
    return 0


def _cut(text: str, limit: int = 110) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _from_run(args) -> int:
    from mathbench.core.datasets.from_run import FromRunError, missed_problems, write_pairs
    from mathbench.core.evaluation.layout import RunError
    from mathbench.core.evaluation.rundir import find_run

    where = getattr(args, "workspace", None)
    run = find_run(args.run, where) or args.run  # not found: core names it in its error
    compare = (find_run(args.compare, where) or args.compare) if args.compare else None
    try:
        rows = missed_problems(run, args.which, compare=compare, workspace=workspace_of(args))
    except (FromRunError, RunError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_pairs(rows, args.out)
    if args.json:
        print(json.dumps({"run": args.run, "which": args.which, "problems": len(rows), "out": args.out},
                         ensure_ascii=False))
        return 0
    print(f"wrote {args.out}: {len(rows)} {args.which} problems of {args.run} with their gold answers")
    print(f"  next: mathbench synth --pairs {args.out} --base-url URL --model TEACHER --out FILE")
    return 0
