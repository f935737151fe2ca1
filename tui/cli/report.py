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


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def cmd_report(args: argparse.Namespace) -> int:
    """Print (or export) the report of args.run_dir."""
    from mathbench.core.evaluation import export, report
    from mathbench.core.evaluation.compare import compare
    from mathbench.core.evaluation.layout import RunError
    from mathbench.core.evaluation.rundir import find_run

    run_path = find_run(args.run_dir, getattr(args, "workspace", None))
    if run_path is None:
        print(f"mathbench report: {args.run_dir}: not a run directory (no manifest.json or results.jsonl)",
              file=sys.stderr)
        return 2
    other = None
    if args.compare:
        other = find_run(args.compare, getattr(args, "workspace", None))
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


def _bucket_table(out, title: str, buckets: dict, label: str):
    from mathbench.tui.cli.tables import Col, fit_table

    columns = [Col(label, keep=9), Col("n", "right", 8), Col("correct", "right", 3), Col("wrong", "right", 2),
               Col("unsure", "right", 4), Col("acc", "right", 9), Col("95% CI", "right", 6), Col("share", "right", 0),
               Col("err", "right", 5)]
    rows = [[str(key), str(b["graded"]), str(b["correct"]), str(b["wrong"]), str(b["uncertain"]), _pct(b["accuracy"]),
             _ci(b["ci95"]), _pct(b.get("share_of_correct")), f"[magenta]{b['errors']}[/]" if b["errors"] else "0"]
            for key, b in buckets.items()]
    return fit_table(out, f"{title}  [dim](n graded; err: errored, not counted)[/]", columns, rows)


_MARK = {"correct": "[green]✓[/]", "wrong": "[red]✗[/]", "uncertain": "[yellow]?[/]"}


def _print_report(summary: dict, comparison: dict | None, n_flips: int) -> None:
    from mathbench.tui.cli.tables import Col, console, fit_table

    out = console()
    human = summary["human"]
    out.print(
        f"[bold]{summary.get('run', '')}[/]  accuracy [bold]{_pct(summary['accuracy'])}[/] "
        f"({summary['correct']}/{summary['graded']} graded, 95% CI {_ci(summary['ci95'])})  "
        f"correct {summary['correct']} · wrong {summary['wrong']} · uncertain {summary['uncertain']}", highlight=False,
    )
    if summary["errors"]:
        out.print(f"[magenta]errors {summary['errors']}[/]: not graded and not counted in the accuracy "
                  "(resuming the run re-runs them)", highlight=False)
    out.print(
        f"[dim]human verdicts applied: {human['reviewed']} reviewed, {human['overrides']} overriding the grader "
        f"(grader alone {_pct(summary['grader']['accuracy'])}); {human['pending']} uncertain left to review; "
        f"upper bound if all uncertain were right {_pct(summary['accuracy_upper'])}[/]", highlight=False,
    )
    if summary.get("samples", 1) > 1:
        columns = [Col("k", "right", 9), Col("pass@k", "right", 8), Col("maj@k", "right", 8),
                   Col("maj uncertain", "right", 2)]
        rows = [[k, _pct(value), _pct(summary["maj_at_k"][k]),
                 f"{summary['maj_at_k_counts'][k]['uncertain']}/{summary['maj_at_k_counts'][k]['problems']}"]
                for k, value in summary["pass_at_k"].items()]
        out.print(fit_table(out, f"Samples: {summary['samples']} per problem", columns, rows))
        out.print(f"[dim]mean agreement between a problem's samples {_pct(summary['agreement']['mean'])}[/]",
                  highlight=False)
    if summary["by_level"]:
        out.print(_bucket_table(out, "By level", summary["by_level"], "level"))
    if summary["by_subject"]:
        out.print(_bucket_table(out, "By subject", summary["by_subject"], "subject"))
    if comparison is None:
        return
    from mathbench.core.evaluation.export import left_out_text

    a, b = comparison["a"], comparison["b"]
    out.print(
        f"\n[bold]A[/] {a['name']} {_pct(a['accuracy'])} ({a['correct']}/{a['graded']})  vs  "
        f"[bold]B[/] {b['name']} {_pct(b['accuracy'])} ({b['correct']}/{b['graded']}); "
        f"on the {comparison['n_paired']} problems both graded A {_pct(a['common_accuracy'])}, "
        f"B {_pct(b['common_accuracy'])}; {left_out_text(comparison['left_out'])}", highlight=False,
    )
    out.print(f"[bold]{comparison['sentence']}[/]", highlight=False)
    for group in ("level", "subject"):
        buckets = comparison[f"by_{group}"]
        if not buckets:
            continue
        columns = [Col(group, keep=9), Col("n", "right", 5), Col("A acc", "right", 8), Col("B acc", "right", 8),
                   Col("Δ pts", "right", 9), Col("95% CI", "right", 4), Col("p", "right", 3)]
        rows = []
        for key, row in buckets.items():
            delta = row["diff"]
            shown = "—" if delta is None else f"{100 * delta:+.1f}"
            significant = row["mcnemar_p"] is not None and row["mcnemar_p"] < 0.05
            style = "" if delta is None or delta == 0 or not significant else ("green" if delta > 0 else "red")
            ci = row["diff_ci95"]
            rows.append([str(key), str(row["n_paired"]), _pct(row["a_paired_accuracy"]),
                         _pct(row["b_paired_accuracy"]), f"[{style}]{shown}[/]" if style else shown,
                         "—" if not ci else f"{100 * ci[0]:+.1f}..{100 * ci[1]:+.1f}",
                         "—" if row["mcnemar_p"] is None else f"{row['mcnemar_p']:.2g}"])
        out.print(fit_table(out, f"A vs B by {group} (paired)", columns, rows))
    for direction, title in (("right_to_wrong", "right → wrong"), ("wrong_to_right", "wrong → right")):
        flips = comparison["flips"][direction]
        if not flips:
            out.print(f"[dim]{title}: none[/]")
            continue
        shown = flips[:n_flips]
        columns = [Col("id", keep=9), Col("A", keep=8), Col("B", keep=8), Col("level", keep=3),
                   Col("subject", keep=2), Col("question", keep=7, shrink=True)]
        rows = [[str(f["id"]), _MARK.get(f["a"], "·"), _MARK.get(f["b"], "·"), str(f["level"] or ""),
                 str(f["subject"] or ""), f["question"].replace("\n", " ")] for f in shown]
        heading = f"{title}: {len(flips)}" + (f" (first {n_flips})" if len(flips) > n_flips else "")
        out.print(fit_table(out, heading, columns, rows))


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

    from mathbench.tui.cli.tables import Col, console, fit_table

    columns = [Col("name", keep=9), Col("benchmark", keep=2), Col("model", keep=4), Col("created", keep=1),
               Col("items", "right", 8), Col("acc", "right", 9), Col("state", keep=6)]
    rows = []
    for i in infos:
        created = time.strftime("%m-%d %H:%M", time.localtime(i.created)) if i.created else ""
        planned = i.planned * i.samples if i.planned else None
        items = f"{i.total}/{planned}" if planned and planned != i.total else str(i.total)
        state = "unreadable" if i.error else (i.status or "")
        bench = Path(i.benchmark).name if i.benchmark and "/" in i.benchmark else (i.benchmark or "?")
        rows.append([i.name, bench, i.model or "?", created, items, _pct(i.accuracy), state])
    out = console()
    out.print(fit_table(out, f"Runs in {root}", columns, rows))
    for i in infos:
        if i.error:
            print(f"warning: {i.error}", file=sys.stderr)
    return 0
