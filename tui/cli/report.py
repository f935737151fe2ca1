"""`mathbench report RUN_DIR` (accuracy overall, by level, by subject, human verdicts applied) and `mathbench runs`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` and `runs` commands."""
    p = subparsers.add_parser(
        "report", help="accuracy of a run overall, by level and by subject (human verdicts applied)",
        description="Summarise RUN_DIR: accuracy over the graded items with its 95%% Wilson interval, by MATH "
        "level and subject, errors apart (never counted as wrong), and how many grader verdicts a human settled. "
        "Uncertain items the human has not settled count as not correct. A run with several samples per problem "
        "adds pass@k and maj@k.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, or the name of one in <workspace>/runs")
    p.add_argument("--json", action="store_true",
                   help='print {"total","graded","correct","wrong","uncertain","errors","accuracy","by_level",'
                   '"by_subject","samples","pass_at_k","maj_at_k",...}; with --compare also "diff","diff_ci95",'
                   '"mcnemar_p","n_paired" and "compare"')
    p.add_argument("--compare", metavar="OTHER_RUN", default=None,
                   help="compare with another run (A is RUN_DIR, B is OTHER_RUN) on the problems both graded: the "
                   "difference with a paired-bootstrap 95%% interval and the exact McNemar p, per level and subject, "
                   "and the problems that flipped")
    p.add_argument("--markdown", metavar="FILE", default=None, help="also save the report as Markdown")
    p.add_argument("--csv", metavar="DIR", default=None, help="also save the report's tables as CSV files in DIR")
    p.add_argument("--flips", type=int, default=20, metavar="N", help="flips listed per direction (default 20)")
    p.set_defaults(func=cmd_report)

    r = subparsers.add_parser(
        "runs", help="list the workspace's runs with benchmark, model, size and accuracy",
        description="List the run directories under <workspace>/runs, newest first.",
    )
    r.add_argument("--json", action="store_true", help="print a JSON list of runs")
    r.set_defaults(func=cmd_runs)


def _resolve_run(arg: str, workspace: str | None) -> Path | None:
    """RUN_DIR as given, else <workspace>/runs/RUN_DIR; None when neither is a run directory."""
    from mathbench.core.evaluation.rundir import RunDir

    path = Path(arg).expanduser()
    base = Path(workspace).expanduser() if workspace else Path.cwd()
    for candidate in (path, base / "runs" / arg):
        if RunDir(candidate).exists():
            return candidate
    return None


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def cmd_report(args: argparse.Namespace) -> int:
    """Print (or export) the report of args.run_dir."""
    from mathbench.core.evaluation import export, report
    from mathbench.core.evaluation.compare import compare
    from mathbench.core.evaluation.layout import RunError

    run_path = _resolve_run(args.run_dir, getattr(args, "workspace", None))
    if run_path is None:
        print(f"mathbench report: {args.run_dir}: not a run directory (no manifest.json or results.jsonl)",
              file=sys.stderr)
        return 2
    other = None
    if args.compare:
        other = _resolve_run(args.compare, getattr(args, "workspace", None))
        if other is None:
            print(f"mathbench report: {args.compare}: not a run directory", file=sys.stderr)
            return 2
    try:
        summary = report.summarize(run_path)
        comparison = compare(run_path, other) if other is not None else None
        if args.markdown:
            export.write_markdown(run_path, args.markdown, compare_to=other)
        if args.csv:
            written = export.to_csv(run_path, args.csv, compare_to=other)
    except (RunError, OSError, ValueError) as exc:
        print(f"mathbench report: {exc}", file=sys.stderr)
        return 2
    for problem in summary.get("problems") or []:
        print(f"warning: {problem}", file=sys.stderr)
    if args.json:
        out = dict(summary)
        if comparison is not None:
            out.update({k: comparison[k] for k in ("diff", "diff_ci95", "mcnemar_p", "n_paired", "sentence",
                                                   "left_out")})
            out["compare"] = comparison
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        _print_report(summary, comparison, args.flips)
        if args.markdown:
            print(f"Markdown saved to {args.markdown}")
        if args.csv:
            print(f"CSV saved: {', '.join(str(p) for p in written)}")
    return 0


def _ci(ci: list | None) -> str:
    return "—" if not ci else f"{100 * ci[0]:.0f}–{100 * ci[1]:.0f}%"


def _table(title: str):
    from rich import box
    from rich.table import Table

    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)


def _bucket_table(title: str, buckets: dict, label: str, width: int = 120):
    table = _table(f"{title}  [dim](n graded; err: errored, not counted)[/]")
    table.add_column(label, no_wrap=True, overflow="ellipsis", max_width=max(8, min(24, width - 66)))
    for col in ("n", "correct", "wrong", "unsure", "acc", "95% CI", "share", "err"):
        table.add_column(col, justify="right", no_wrap=True)
    for key, b in buckets.items():
        table.add_row(str(key), str(b["graded"]), str(b["correct"]), str(b["wrong"]), str(b["uncertain"]),
                      _pct(b["accuracy"]), _ci(b["ci95"]), _pct(b.get("share_of_correct")),
                      f"[magenta]{b['errors']}[/]" if b["errors"] else "0")
    return table


_MARK = {"correct": "[green]✓[/]", "wrong": "[red]✗[/]", "uncertain": "[yellow]?[/]"}


def _print_report(summary: dict, comparison: dict | None, n_flips: int) -> None:
    from rich.console import Console

    console = Console()
    human = summary["human"]
    console.print(
        f"[bold]{summary.get('run', '')}[/]  accuracy [bold]{_pct(summary['accuracy'])}[/] "
        f"({summary['correct']}/{summary['graded']} graded, 95% CI {_ci(summary['ci95'])})  "
        f"correct {summary['correct']} · wrong {summary['wrong']} · uncertain {summary['uncertain']}"
    )
    if summary["errors"]:
        console.print(f"[magenta]errors {summary['errors']}[/]: not graded and not counted in the accuracy "
                      "(resuming the run re-runs them)")
    console.print(
        f"[dim]human verdicts applied: {human['reviewed']} reviewed, {human['overrides']} overriding the grader "
        f"(grader alone {_pct(summary['grader']['accuracy'])}); {human['pending']} uncertain left to review; "
        f"upper bound if all uncertain were right {_pct(summary['accuracy_upper'])}[/]"
    )
    if summary.get("samples", 1) > 1:
        table = _table(f"Samples: {summary['samples']} per problem")
        for col in ("k", "pass@k", "maj@k", "maj uncertain"):
            table.add_column(col, justify="right", no_wrap=True)
        for k, value in summary["pass_at_k"].items():
            counts = summary["maj_at_k_counts"][k]
            table.add_row(k, _pct(value), _pct(summary["maj_at_k"][k]), f"{counts['uncertain']}/{counts['problems']}")
        console.print(table)
        console.print(f"[dim]mean agreement between a problem's samples {_pct(summary['agreement']['mean'])}[/]")
    if summary["by_level"]:
        console.print(_bucket_table("By level", summary["by_level"], "level", console.width))
    if summary["by_subject"]:
        console.print(_bucket_table("By subject", summary["by_subject"], "subject", console.width))
    if comparison is None:
        return
    from mathbench.core.evaluation.export import left_out_text

    a, b = comparison["a"], comparison["b"]
    console.print(
        f"\n[bold]A[/] {a['name']} {_pct(a['accuracy'])} ({a['correct']}/{a['graded']})  vs  "
        f"[bold]B[/] {b['name']} {_pct(b['accuracy'])} ({b['correct']}/{b['graded']}); "
        f"on the {comparison['n_paired']} problems both graded A {_pct(a['common_accuracy'])}, "
        f"B {_pct(b['common_accuracy'])}; {left_out_text(comparison['left_out'])}"
    )
    console.print(f"[bold]{comparison['sentence']}[/]")
    for group in ("level", "subject"):
        rows = comparison[f"by_{group}"]
        if not rows:
            continue
        table = _table(f"A vs B by {group} (paired)")
        for col in (group, "n", "A acc", "B acc", "Δ pts", "95% CI", "p"):
            table.add_column(col, justify="left" if col == group else "right", no_wrap=True,
                             overflow="ellipsis", max_width=24 if col == group else None)
        for key, row in rows.items():
            delta = row["diff"]
            shown = "—" if delta is None else f"{100 * delta:+.1f}"
            significant = row["mcnemar_p"] is not None and row["mcnemar_p"] < 0.05
            style = "" if delta is None or delta == 0 or not significant else ("green" if delta > 0 else "red")
            ci = row["diff_ci95"]
            table.add_row(str(key), str(row["n_paired"]), _pct(row["a_paired_accuracy"]),
                          _pct(row["b_paired_accuracy"]), f"[{style}]{shown}[/]" if style else shown,
                          "—" if not ci else f"{100 * ci[0]:+.1f}..{100 * ci[1]:+.1f}",
                          "—" if row["mcnemar_p"] is None else f"{row['mcnemar_p']:.2g}")
        console.print(table)
    for direction, title in (("right_to_wrong", "right → wrong"), ("wrong_to_right", "wrong → right")):
        flips = comparison["flips"][direction]
        table = _table(f"{title}: {len(flips)}" + (f" (first {n_flips})" if len(flips) > n_flips else ""))
        shown = flips[:n_flips]
        id_w = min(24, max((len(str(f["id"])) for f in shown), default=2))
        lvl_w = min(10, max([5] + [len(str(f["level"] or "")) for f in shown]))
        subj_w = min(14, max([7] + [len(str(f["subject"] or "")) for f in shown]))
        table.add_column("id", no_wrap=True, min_width=id_w, max_width=id_w)
        table.add_column("A", no_wrap=True, min_width=1)
        table.add_column("B", no_wrap=True, min_width=1)
        table.add_column("level", no_wrap=True, overflow="ellipsis", min_width=lvl_w, max_width=lvl_w)
        table.add_column("subject", no_wrap=True, overflow="ellipsis", min_width=subj_w, max_width=subj_w)
        question_w = max(10, console.width - id_w - lvl_w - subj_w - 16)
        table.add_column("question", no_wrap=True, overflow="ellipsis", max_width=question_w)
        for f in shown:
            table.add_row(str(f["id"]), _MARK.get(f["a"], "·"), _MARK.get(f["b"], "·"), str(f["level"] or ""),
                          str(f["subject"] or ""), f["question"].replace("\n", " "))
        if flips:
            console.print(table)
        else:
            console.print(f"[dim]{title}: none[/]")


def cmd_runs(args: argparse.Namespace) -> int:
    """List the workspace's runs."""
    from mathbench.core.evaluation.listing import list_runs

    root = Path(getattr(args, "workspace", None) or Path.cwd()).expanduser()
    infos = list_runs(root)
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], ensure_ascii=False, indent=2))
        return 0
    if not infos:
        print(f"no runs under {root / 'runs'}")
        return 0
    import time

    from rich.console import Console

    console = Console()
    table = _table(f"Runs in {root}")
    longest = max(len(i.name) for i in infos)
    table.add_column("name", no_wrap=True, overflow="ellipsis", min_width=min(longest, 24))
    named = max(8, min(20, (console.width - 66 - min(longest, 24)) // 2))
    for col in ("benchmark", "model", "created", "items", "acc", "state"):
        table.add_column(col, justify="right" if col in ("items", "acc") else "left", no_wrap=True,
                         overflow="ellipsis", max_width=named if col in ("benchmark", "model") else None,
                         min_width={"state": 10, "items": 5, "acc": 6}.get(col))
    for i in infos:
        created = time.strftime("%m-%d %H:%M", time.localtime(i.created)) if i.created else ""
        planned = i.planned * i.samples if i.planned else None
        items = f"{i.total}/{planned}" if planned and planned != i.total else str(i.total)
        state = "unreadable" if i.error else (i.status or "")
        bench = Path(i.benchmark).name if i.benchmark and "/" in i.benchmark else (i.benchmark or "?")
        table.add_row(i.name, bench, i.model or "?", created, items, _pct(i.accuracy), state)
    console.print(table)
    for i in infos:
        if i.error:
            print(f"warning: {i.error}", file=sys.stderr)
    return 0
