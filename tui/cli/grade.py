"""`mathbench grade IN.jsonl [-o OUT.jsonl] [--json]`: three-way verdicts for a file of (gold, prediction) lines."""

from __future__ import annotations

import argparse
import json
import sys

PROGRESS_MIN_ITEMS = 200  # shorter files finish before a bar would be worth drawing


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `grade` command."""
    p = subparsers.add_parser(
        "grade",
        help="grade a JSONL file of {gold, prediction} lines: correct, wrong or uncertain, with a reason",
        description="Each input line is a JSON object with `gold` (a bare answer, a MATH solution with "
        "\\boxed{}, or a GSM8K answer with ####) and `prediction` (the model's full reply); a choice item also "
        "carries `choices` (a list, or a dict keyed A-E) and a gold letter (or a 0-based index); a `question` "
        "helps read replies that mark no answer. Other fields are kept. Each output line adds `verdict`, "
        "`gold_answer`, `pred_answer` and `reason`.",
    )
    p.add_argument("input", metavar="IN.jsonl", help="input JSONL file")
    p.add_argument("-o", "--output", metavar="OUT.jsonl", default=None,
                   help="write graded lines here (atomically); default: standard output")
    p.add_argument("--json", action="store_true",
                   help='print one summary object {"total","correct","wrong","uncertain","accuracy"}')
    p.add_argument("--workers", type=int, default=None, help="grading processes (default: all cores)")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds allowed per item; an item not finished in time is uncertain 'too-large' (default 5)")
    p.set_defaults(func=run)


class InputError(Exception):
    """A malformed input line, already phrased as FILE:LINE[:COL]: what is wrong."""


def read_items(path: str) -> list[dict]:
    """Every non-blank line of a grade input file as a dict with string `gold` and `prediction`."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")  # not splitlines(): U+2028 inside a JSON string is no line break
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    items = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        for key in ("gold", "prediction"):
            if key not in obj:
                raise InputError(f"{path}:{lineno}: missing field {key!r}")
            value = obj[key]
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise InputError(f"{path}:{lineno}: field {key!r} must be a string, got {type(value).__name__}")
        if obj.get("choices") is not None:
            from mathbench.core.grading import normalize_choices

            if not isinstance(obj["choices"], (list, dict, str)) or normalize_choices(obj["choices"]) is None:
                raise InputError(f"{path}:{lineno}: field 'choices' must be a list of options or a dict keyed A-E")
        items.append(obj)
    return items


def _gold(item: dict):
    """The gold as given: a choice item's integer gold is an option's index, any other gold is text."""
    gold = item["gold"]
    return gold if item.get("choices") is not None and isinstance(gold, int) else str(gold)


def summarize(grades) -> dict:
    """The `--json` summary of a list of grades."""
    total = len(grades)
    counts = {v: sum(1 for g in grades if g.verdict == v) for v in ("correct", "wrong", "uncertain")}
    return {"total": total, **counts, "accuracy": round(counts["correct"] / total, 6) if total else 0.0}


def run(args: argparse.Namespace) -> int:
    """Grade args.input and write the graded lines and/or the summary."""
    try:
        items = read_items(args.input)
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    pairs = [(_gold(it), str(it["prediction"]), it.get("choices"),
              it["question"] if isinstance(it.get("question"), str) else None) for it in items]
    grades = _grade_with_progress(pairs, args)
    lines = []
    for item, g in zip(items, grades):
        lines.append(json.dumps({**item, **g.to_dict()}, ensure_ascii=False))
    text = "".join(line + "\n" for line in lines)
    summary = summarize(grades)
    if args.output:
        from mathbench.core.storage import atomic_write_text

        atomic_write_text(args.output, text)
    elif not args.json:
        sys.stdout.write(text)
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"graded {summary['total']}: {summary['correct']} correct, {summary['wrong']} wrong, "
            f"{summary['uncertain']} uncertain, accuracy {summary['accuracy']:.2%}",
            file=sys.stderr if not args.output else sys.stdout,
        )
    return 0


def _grade_with_progress(pairs, args):
    from mathbench.core.grading import grade_many

    if len(pairs) < PROGRESS_MIN_ITEMS or not sys.stderr.isatty():
        return grade_many(pairs, workers=args.workers, timeout=args.timeout)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("grade", total=len(pairs))
        return grade_many(pairs, workers=args.workers, timeout=args.timeout,
                          on_progress=lambda done, total: progress.update(task, completed=done))
