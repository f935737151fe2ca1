"""`mathbench data validate|dedupe|export|stats|decontaminate|from-run`: SFT data tools on the command line."""

from __future__ import annotations

import json
import sys
import time


def register(subparsers) -> None:
    """Add the `data` command group."""
    data = subparsers.add_parser("data", help="validate, de-duplicate, export and summarise SFT data files",
                                 description="SFT data tools (ShareGPT, OpenAI messages or alpaca; JSON or JSONL).")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: (data.print_help(), 0)[1])

    p = sub.add_parser("validate", help="check role rules and re-run each item's code against its recorded output")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print one summary object (several files: totals + per file)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per code block (default 10)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not fill the result cache")
    p.add_argument("--report", metavar="OUT.jsonl", help="write every item's check as one JSON line")
    p.add_argument("--show", type=int, default=3, metavar="N", help="examples shown per problem kind (default 3)")
    p.set_defaults(func=_validate)

    p = sub.add_parser("dedupe", help="find exact and near-duplicate problems")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--threshold", type=float, default=0.8, help="near-duplicate Jaccard similarity (default 0.8)")
    p.add_argument("--exact-only", action="store_true", help="only exact duplicates (normalised text)")
    p.add_argument("--keep", default="first", choices=("first", "last", "longest", "shortest", "valid"),
                   help="which item of a cluster stays when writing --out (valid: needs validation, cached)")
    p.add_argument("--out", metavar="FILE", help="write the de-duplicated items here (never over an input)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per code block for --keep valid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_dedupe)

    p = sub.add_parser("export", help="write a LLaMA-Factory data file and merge its dataset_info.json entry")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--to", required=True, metavar="DIR", help="LLaMA-Factory dataset_dir (holds dataset_info.json)")
    p.add_argument("--name", help="dataset name (default: the first file's stem)")
    p.add_argument("--system", metavar="TEXT", help="system prompt for every item")
    p.add_argument("--system-file", metavar="FILE", help="system prompt read from a file")
    p.add_argument("--observation-role", choices=("human", "observation"), default="human",
                   help="role of code-output turns (default human, as the seed's data)")
    p.add_argument("--only-valid", action="store_true", help="only items that pass validation (runs it, cached)")
    p.add_argument("--holdout", type=float, default=0, help="held-out split: a fraction (<1) or a count")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--replace", action="store_true", help="replace an entry of that name that names another file")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per code block for --only-valid")
    p.add_argument("--against", metavar="NAME|FILE[,...]", default="",
                   help="benchmarks to check the data against, besides the workspace's own (they are always checked)")
    p.add_argument("--drop-contaminated", action="store_true", help="leave out every item that repeats a benchmark problem")
    p.add_argument("--no-decontaminate", action="store_true", help="do not check the data against benchmarks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_export)

    p = sub.add_parser("stats", help="counts, lengths, languages, answer forms; cached validation shares")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_stats)

    from mathbench.tui.cli import data_benchmarks

    data_benchmarks.register(sub)


# ------------------------------------------------------------------------------------------------ helpers


def _cache_path(args):
    """The workspace's cache when there is a workspace, else the user's cache."""
    from pathlib import Path

    from mathbench.core.datasets import default_cache_path
    from mathbench.core.workspace import Workspace, is_workspace

    root = Path(args.workspace) if getattr(args, "workspace", None) else Path.cwd()
    if is_workspace(root):
        return default_cache_path(Workspace(root.resolve()).state_dir)
    return default_cache_path()


def _load_all(files):
    """Datasets for *files*, or (None, message) naming FILE:LINE:COL on the first bad one."""
    from mathbench.core.datasets import Dataset, DatasetError

    out = []
    for f in files:
        try:
            out.append(Dataset.load(f))
        except DatasetError as exc:
            return None, str(exc)
    return out, None


class _Progress:
    """`label: done/total` on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str):
        self.label = label
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done != total and now - self.last < (0.1 if self.tty else 2.0):
            return
        self.last = now
        end = "\n" if done == total or not self.tty else ""
        print(f"\r{self.label}: {done}/{total}", end=end, file=sys.stderr, flush=True)


def _validate_ds(ds, args, label=None):
    from mathbench.core.datasets import validate_dataset

    cache = None if getattr(args, "no_cache", False) else _cache_path(args)
    return validate_dataset(ds, timeout=args.timeout, cache=cache, on_progress=_Progress(label or f"validating {ds.path}"))


# ------------------------------------------------------------------------------------------------ commands


_SUM_KEYS = ("items", "schema_errors", "code_match", "code_mismatch", "code_error", "code_timeout", "no_code",
             "code_unchecked", "code_error_missing_module", "answer_consistent", "answer_inconsistent",
             "answer_unknown", "valid", "blocks_executed", "cached_items")


def _validate(args) -> int:
    datasets, err = _load_all(args.files)
    if err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    reports = [_validate_ds(ds, args) for ds in datasets]
    if args.report:
        from mathbench.core.storage import atomic_write_text

        lines = []
        for rep in reports:
            for c in rep.checks:
                lines.append(json.dumps({"file": rep.path, **c.to_dict()}, ensure_ascii=False))
        atomic_write_text(args.report, "\n".join(lines) + ("\n" if lines else ""))
    sums = [r.summary() for r in reports]
    if args.json:
        if len(sums) == 1:
            print(json.dumps(sums[0], ensure_ascii=False))
        else:
            total = {k: sum(s.get(k, 0) for s in sums) for k in _SUM_KEYS}
            total["elapsed_s"] = round(sum(s["elapsed_s"] for s in sums), 3)
            total["files"] = {s["file"]: s for s in sums}
            print(json.dumps(total, ensure_ascii=False))
        return 0
    for rep, s in zip(reports, sums):
        print(f"{rep.path}: {s['items']} items, {s['valid']} valid  ({s['elapsed_s']:.1f} s, "
              f"{s['blocks_executed']} blocks run, {s['cached_items']} items from cache)")
        print(f"  schema errors {s['schema_errors']}  |  code: match {s['code_match']}, mismatch {s['code_mismatch']}, "
              f"error {s['code_error']} (missing module {s['code_error_missing_module']}), timeout {s['code_timeout']}, "
              f"no code {s['no_code']}, unchecked {s['code_unchecked']}")
        print(f"  final answer vs output: consistent {s['answer_consistent']}, inconsistent {s['answer_inconsistent']}, "
              f"unknown {s['answer_unknown']}")
        _show_examples(rep, args.show)
    return 0


def _where(rep, c) -> str:
    return f"{rep.path}:{c.line}" if c.line else f"{rep.path} item {c.index}"


def _show_examples(rep, n: int) -> None:
    if n <= 0:
        return
    schema = [c for c in rep.checks if c.schema_errors]
    for c in schema[:n]:
        print(f"  schema   {_where(rep, c)} (item {c.index}): {'; '.join(c.schema_errors)}")
    for status in ("mismatch", "error", "timeout"):
        for c in rep.by_status(status)[:n]:
            r = next(r for r in c.rounds if r.result == status)
            print(f"  {status:<8} {_where(rep, c)} (item {c.index}, turn {r.turn}): {r.how}")
            if status == "mismatch":
                print(f"           ran:      {r.stdout.strip()[:160]!r}")
                print(f"           recorded: {(r.recorded or '').strip()[:160]!r}")
    bad = [c for c in rep.checks if c.answer_status == "inconsistent"]
    for c in bad[:n]:
        print(f"  answer   {_where(rep, c)} (item {c.index}): {c.answer_reason}")


def _dedupe(args) -> int:
    from pathlib import Path

    from mathbench.core.datasets import Dataset, choose_drops, find_duplicates, problem_text

    datasets, err = _load_all(args.files)
    if err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    where = [(str(ds.path), i, ds.line_of(i)) for ds in datasets for i in range(len(ds))]
    items = [it for ds in datasets for it in ds.items]
    texts = [problem_text(it) for it in items]
    clusters = find_duplicates(texts, threshold=args.threshold, near=not args.exact_only)
    length = None
    is_valid = None
    if args.keep in ("longest", "shortest"):
        from mathbench.core.datasets import item_turns

        length = lambda i: sum(len(t.content) for t in item_turns(items[i]) if t.role == "gpt")  # noqa: E731
    if args.keep == "valid":
        checks = []
        for ds in datasets:
            checks += _validate_ds(ds, args, f"validating {ds.path}").checks
        is_valid = lambda i: checks[i].valid  # noqa: E731
    drops = choose_drops(clusters, policy=args.keep, length=length, is_valid=is_valid)
    out_info = None
    if args.out:
        out = Path(args.out)
        if any(out.resolve() == Path(f).resolve() for f in args.files):
            print("error: --out must not be one of the input files (they are kept as they are)", file=sys.stderr)
            return 2
        dropset = set(drops)
        kept = [it for i, it in enumerate(items) if i not in dropset]
        ds = Dataset.from_items(kept, fmt=datasets[0].fmt, layout=datasets[0].layout)
        ds.save(out, backup=True, force=True)
        out_info = {"file": str(out), "kept": len(kept), "dropped": len(drops)}
    summary = {
        "items": len(items),
        "clusters": len(clusters),
        "exact_clusters": sum(c.kind == "exact" for c in clusters),
        "near_clusters": sum(c.kind == "near" for c in clusters),
        "duplicates": len(drops),
        "keep": args.keep,
    }
    if args.json:
        summary["cluster_list"] = [
            {**c.to_dict(), "where": [{"file": where[i][0], "index": where[i][1], "line": where[i][2]} for i in c.members]}
            for c in clusters
        ]
        if out_info:
            summary["out"] = out_info
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"{summary['items']} items: {summary['exact_clusters']} exact and {summary['near_clusters']} near-duplicate "
          f"clusters; keeping one per cluster ({args.keep}) drops {len(drops)}")
    for n, c in enumerate(clusters, 1):
        extra = ", numbers differ" if c.numbers_differ else ""
        print(f"\n#{n} {c.kind} (similarity >= {c.similarity:.2f}{extra})")
        for i in c.members:
            mark = "keep" if i == c.keep else "drop"
            f, idx, line = where[i]
            loc = f"{f}:{line}" if line else f"{f} item {idx}"
            print(f"  [{mark}] {loc} (item {idx}): {texts[i].strip()[:100]!r}")
    if out_info:
        print(f"\nwrote {out_info['file']}: {out_info['kept']} items ({out_info['dropped']} dropped)")
    return 0


def _export(args) -> int:
    from pathlib import Path

    from mathbench.core.datasets import export_sft
    from mathbench.core.datasets.export import ExportCheck, check_before_export
    from mathbench.core.datasets.lineage import write_report
    from mathbench.tui.cli.data_benchmarks import workspace_of

    datasets, err = _load_all(args.files)
    if err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    items = [it for ds in datasets for it in ds.items]
    is_valid = None
    if args.only_valid:
        checks = []
        for ds in datasets:
            checks += _validate_ds(ds, args).checks
        is_valid = lambda i: checks[i].valid  # noqa: E731
    system = args.system
    if args.system_file:
        system = Path(args.system_file).read_text(encoding="utf-8")
    holdout = args.holdout if 0 < args.holdout < 1 else int(args.holdout)
    name = args.name or Path(args.files[0]).stem.replace(" ", "_")
    check = ExportCheck(None, [], set(), [])
    if not args.no_decontaminate:
        check = check_before_export(items, workspace=workspace_of(args),
                                    against=[s for s in args.against.split(",") if s.strip()])
        for problem in check.problems:
            print(f"warning: not checked against {problem}", file=sys.stderr)
    drop = set(check.must_drop)
    if args.drop_contaminated and check.report is not None:
        drop |= set(check.report.contaminated)
    try:
        res = export_sft(items, args.to, name, system_prompt=system, observation_role=args.observation_role,
                         only_valid=args.only_valid, is_valid=is_valid, holdout=holdout, seed=args.seed,
                         replace=args.replace, drop=drop)
    except (ValueError, OSError) as exc:  # DatasetError (a malformed dataset_info.json) is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report_file = None
    if check.report is not None and res.files:
        report_file = write_report(res.files[0], check.report.summary(), against=check.against, left_out=len(drop))
    warning = None if args.drop_contaminated else check.warning()
    if warning:
        print(f"warning: {warning}; see {report_file} (--drop-contaminated leaves them out)", file=sys.stderr)
    if args.json:
        out = res.to_dict()
        out["contamination"] = None if check.report is None else {
            "against": check.against, "contaminated": len(check.report.contaminated),
            "by_benchmark": check.report.by_benchmark(), "left_out": len(drop),
            "report": str(report_file) if report_file else None}
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"exported {res.exported} items" + (f" (+{res.heldout} held out)" if res.heldout else "")
          + (f"; left out {res.skipped_invalid} invalid" if res.skipped_invalid else "")
          + (f"; left out {len(res.skipped_schema)} breaking LLaMA-Factory's role rules" if res.skipped_schema else "")
          + (f"; left out {res.skipped_contaminated} repeating a benchmark problem" if res.skipped_contaminated else ""))
    for f in res.files:
        print(f"  wrote {f}")
    print(f"  registered {', '.join(res.entries)} in {res.dataset_info}")
    if report_file:
        print(f"  checked against {len(check.against)} benchmarks: {report_file}")
    return 0


def _stats(args) -> int:
    from mathbench.core.datasets import ValidationCache, cached_checks, dataset_stats, schema_errors

    datasets, err = _load_all(args.files)
    if err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cache = ValidationCache(_cache_path(args))
    out = []
    try:
        for ds in datasets:
            st = dataset_stats(ds.items, ds.fmt)
            st["file"] = str(ds.path)
            st["schema_errors"] = sum(1 for it in ds.items if schema_errors(it, ds.fmt))
            checks = [c for c in cached_checks(ds.items, fmt=ds.fmt, cache=cache) if c is not None]
            if checks:
                from collections import Counter

                st["validation"] = {"validated": len(checks), **dict(Counter(c.code_status for c in checks)),
                                    "valid": sum(c.valid for c in checks)}
            out.append(st)
    finally:
        cache.close()
    if args.json:
        print(json.dumps(out[0] if len(out) == 1 else out, ensure_ascii=False))
        return 0
    for st in out:
        print(f"{st['file']}: {st['items']} items ({st['format']}), {st['with_code']} with code, "
              f"{st['schema_errors']} breaking role rules")
        print(f"  turns per item: {st['turns']}   roles: {st['roles']}")
        print(f"  languages: {st['languages']}   final-answer forms: {st['answer_rules']}")
        pc, rc = st["problem_chars"], st["response_chars"]
        print(f"  problem chars: median {pc['median']}, mean {pc['mean']}, max {pc['max']}   "
              f"response chars: median {rc['median']}, mean {rc['mean']}, max {rc['max']}")
        if "validation" in st:
            print(f"  validation (cached): {st['validation']}")
        else:
            print("  validation: none cached yet (run `mathbench data validate`)")
    return 0
