"""CLI tables: fit a terminal by leaving columns out (never cutting a number), print whole values when piped,
and stop quietly when the reader goes away."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from rich.console import Console

from mathbench.core.workspace import open_workspace
from mathbench.tui.cli.tables import Col, fit_table
from tests.support.tui_runs import make_run

LONG_MODEL = "qwen2.5-math-7b-instruct-pot-sft-epoch3-checkpoint-1200"


def _lines(table, width: int) -> list[str]:
    out = Console(width=width, file=io.StringIO(), color_system=None)
    out.print(table)
    return [line.rstrip() for line in out.file.getvalue().splitlines()]


def test_a_table_fits_the_terminal_by_leaving_out_the_least_important_columns():
    columns = [Col("name", keep=9), Col("benchmark", keep=2), Col("model", keep=4), Col("created", keep=1),
               Col("items", "right", 8), Col("acc", "right", 9), Col("state", keep=6)]
    rows = [["demo-pot-v2", "gsm8k_test.jsonl", LONG_MODEL, "11-24 16:00", "1319", "85.0%", "finished"]]
    for width in (160, 100, 60, 40):
        out = Console(width=width, file=io.StringIO(), color_system=None)
        lines = _lines(fit_table(out, "Runs", columns, rows), width)
        assert all(len(line) <= width for line in lines)
        text = "\n".join(lines)
        assert "…" not in text
        for value in ("demo-pot-v2", "1319", "85.0%"):
            assert value in text  # the numbers a table exists for are never cut
    wide = "\n".join(_lines(fit_table(Console(width=160, file=io.StringIO()), "Runs", columns, rows), 160))
    assert LONG_MODEL in wide and "gsm8k_test.jsonl" in wide
    narrow = "\n".join(_lines(fit_table(Console(width=60, file=io.StringIO()), "Runs", columns, rows), 60))
    assert "created" not in narrow and "benchmark" not in narrow  # left out first


def _flipped_pair(tmp_path, n: int):
    ws = open_workspace(tmp_path / "ws", sample=False)
    a = make_run(ws.runs_dir / "a", n, name="a")
    b = make_run(ws.runs_dir / "b", n, name=LONG_MODEL)
    records = [json.loads(line) for line in (b / "results.jsonl").read_text().splitlines()]
    with open(b / "results.jsonl", "w", encoding="utf-8") as fh:
        for record in records:
            record["verdict"] = "wrong" if record["verdict"] == "correct" else "correct"
            fh.write(json.dumps(record) + "\n")
    return ws, a, b


def test_piped_output_prints_whole_values(tmp_path):
    ws, a, b = _flipped_pair(tmp_path, 30)
    out = subprocess.run([sys.executable, "-m", "mathbench.tui", "--workspace", str(ws.root), "runs"],
                         capture_output=True, text=True, check=True).stdout
    assert LONG_MODEL in out and "…" not in out
    report = subprocess.run([sys.executable, "-m", "mathbench.tui", "--workspace", str(ws.root), "report", "a",
                             "--compare", "b"], capture_output=True, text=True, check=True).stdout
    assert "Problem 29: what is 29 times 7 modulo 97?" in report and "…" not in report


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    ws, a, b = _flipped_pair(tmp_path, 3000)  # far more output than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "mathbench.tui", "--workspace", str(ws.root), "report", "a",
                             "--compare", "b", "--flips", "3000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does after its line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) != 0  # its output was cut short, which a pipeline may want to know
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr and "Exception ignored" not in stderr
