"""trainer_log.jsonl read incrementally (torn lines, resumes, real lines), checkpoints, and a live run."""

from __future__ import annotations

import json
import math

import pytest

from mathbench.core import jobs
from mathbench.core.jobs.progress import job_progress
from mathbench.core.jobs.training import (
    TrainerLog, find_checkpoints, last_progress, parse_console_metrics, parse_hms, read_trainer_log, smooth,
    start_training, training_status,
)
from tests.standins import standins, wait_for, ws  # noqa: F401  (fixtures)

# Lines as they appear in the wild (from the facts document).
REAL_LINES = [
    '{"current_steps": 10, "total_steps": 375, "loss": 2.203, "lr": 2.6315789473684212e-05, "epoch": 0.0796812749003984, "percentage": 2.67, "elapsed_time": "0:09:01", "remaining_time": "5:29:08"}',
    '{"current_steps": 5, "total_steps": 93, "loss": 5.7013, "lr": 1.0000000000000002e-06, "epoch": 0.1646090534979424, "percentage": 5.38, "elapsed_time": "0:02:03", "remaining_time": "0:36:15", "throughput": 13061.0, "total_tokens": 1614784}',
    '{"current_steps": 10, "total_steps": 10, "loss": 42.0622, "accuracy": 0.20000000298023224, "lr": 0.0, "epoch": 1.0, "percentage": 100.0, "elapsed_time": "0:01:09", "remaining_time": "0:00:00"}',
]


def test_real_lines_parse(tmp_path):
    path = tmp_path / "trainer_log.jsonl"
    path.write_text(REAL_LINES[0] + "\n")
    p = read_trainer_log(tmp_path)
    assert (p.step, p.total, p.loss, p.percentage) == (10, 375, 2.203, 2.67)
    assert (p.elapsed, p.remaining) == (541, 5 * 3600 + 29 * 60 + 8)
    assert p.lr == pytest.approx(2.6315789473684212e-05)
    path.write_text(REAL_LINES[1] + "\n")
    p = read_trainer_log(path)
    assert (p.throughput, p.total_tokens) == (13061.0, 1614784)
    assert p.as_progress().text.startswith("5/93 5%")
    path.write_text(REAL_LINES[2] + "\n")
    p = read_trainer_log(path)
    assert (p.accuracy, p.vram_allocated) == (0.20000000298023224, None)


def test_incremental_reads_only_new_and_waits_for_a_torn_line(tmp_path):
    path = tmp_path / "trainer_log.jsonl"
    log = TrainerLog(tmp_path)
    assert log.poll() == []  # not there yet: not an error
    line1 = json.dumps({"current_steps": 1, "total_steps": 4, "loss": 2.0, "lr": 1e-4, "epoch": 0.25,
                        "percentage": 25.0, "elapsed_time": "0:00:01", "remaining_time": "0:00:03"})
    line2 = json.dumps({"current_steps": 2, "total_steps": 4, "loss": 1.5, "lr": 9e-5, "epoch": 0.5,
                        "percentage": 50.0, "elapsed_time": "0:00:02", "remaining_time": "0:00:02"})
    with open(path, "w") as fh:
        fh.write(line1 + "\n" + line2[:20])
    assert [r["current_steps"] for r in log.poll()] == [1]
    assert log.progress.errors == []
    with open(path, "a") as fh:
        fh.write(line2[20:] + "\n")
    assert [r["current_steps"] for r in log.poll()] == [2]
    assert log.poll() == []
    assert log.progress.losses == [(1.0, 2.0), (2.0, 1.5)]
    assert log.progress.records == 2


def test_eval_and_final_lines_leave_loss_alone(tmp_path):
    lines = [
        {"current_steps": 10, "total_steps": 20, "loss": 1.0, "lr": 1e-4, "epoch": 0.5, "percentage": 50.0},
        {"current_steps": 10, "total_steps": 20, "eval_loss": 0.9, "epoch": 0.5, "percentage": 50.0},
        {"current_steps": 20, "total_steps": 20, "loss": 0.5, "lr": 0.0, "epoch": 1.0, "percentage": 100.0},
        {"current_steps": 20, "total_steps": 20, "epoch": 1.0, "percentage": 100.0, "elapsed_time": "0:01:00",
         "remaining_time": "0:00:00"},
    ]
    (tmp_path / "trainer_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    p = read_trainer_log(tmp_path)
    assert p.losses == [(10.0, 1.0), (20.0, 0.5)]
    assert p.eval_losses == [(10.0, 0.9)]
    assert p.lrs == [(10.0, 1e-4), (20.0, 0.0)]
    assert (p.loss, p.eval_loss, p.percentage, p.remaining) == (0.5, 0.9, 100.0, 0.0)


def test_bad_lines_are_reported_with_file_and_line_and_skipped(tmp_path):
    path = tmp_path / "trainer_log.jsonl"
    path.write_text('{"current_steps": 1, "total_steps": 2, "loss": 1.0}\nnot json\n[1]\n'
                    '{"current_steps": 2, "total_steps": 2, "loss": 0.5}\n')
    p = read_trainer_log(path)
    assert p.step == 2 and len(p.losses) == 2
    assert p.errors[0].startswith(f"{path}:2:1: bad JSON")
    assert p.errors[1] == f"{path}:3: not a JSON object"


def test_resumed_run_replaces_the_overlapping_tail(tmp_path):
    steps = [10, 20, 30, 40, 20, 30, 40, 50]  # crashed at 40, resumed from checkpoint-10
    losses = [4.0, 3.0, 2.0, 1.0, 2.9, 1.9, 0.9, 0.5]
    (tmp_path / "trainer_log.jsonl").write_text("".join(
        json.dumps({"current_steps": s, "total_steps": 50, "loss": v}) + "\n" for s, v in zip(steps, losses)))
    p = read_trainer_log(tmp_path)
    assert p.losses == [(10.0, 4.0), (20.0, 2.9), (30.0, 1.9), (40.0, 0.9), (50.0, 0.5)]


def test_truncated_file_is_read_again_from_the_start(tmp_path):
    path = tmp_path / "trainer_log.jsonl"
    path.write_text("".join(json.dumps({"current_steps": s, "total_steps": 9, "loss": 1.0}) + "\n" for s in (1, 2, 3)))
    log = TrainerLog(path)
    log.poll()
    path.write_text(json.dumps({"current_steps": 1, "total_steps": 5, "loss": 9.0}) + "\n")  # overwrite_output_dir
    log.poll()
    assert (log.progress.step, log.progress.total, log.progress.losses[-1]) == (1, 5, (1.0, 9.0))


@pytest.mark.parametrize("text,seconds", [("0:09:01", 541), ("5:29:08", 19748), ("1 day, 2:03:04", 93784),
                                          ("3 days, 0:00:00", 259200), ("garbage", None), (None, None)])
def test_parse_hms(text, seconds):
    assert parse_hms(text) == seconds


def test_smoothing_is_an_ema_between_bounds():
    values = [5.0, 1.0, 4.0, 2.0, 3.0, 0.5]
    sm = smooth(values)
    assert len(sm) == len(values) and sm[0] == values[0]
    assert all(min(values) <= s <= max(values) for s in sm)
    assert smooth([2.0] * 7) == [2.0] * 7
    fixed = smooth([0.0, 10.0], weight=0.5)
    assert fixed == [0.0, 5.0]
    w = 1.8 * (1 / (1 + math.exp(-0.05 * 2)) - 0.5)  # LLaMA-Factory's plot_loss weight for 2 points
    assert smooth([0.0, 10.0]) == pytest.approx([0.0, (1 - w) * 10.0])


def test_console_metrics_give_grad_norm():
    line = "{'loss': 1.6789, 'grad_norm': 0.7386, 'learning_rate': 0.000491, 'epoch': 0.08}"
    assert parse_console_metrics("  " + line) == {"loss": 1.6789, "grad_norm": 0.7386, "learning_rate": 0.000491,
                                                  "epoch": 0.08}
    assert parse_console_metrics("[INFO|2025] x >> {'loss': '1.5', 'learning_rate': '1.0000e-04'}") == {
        "loss": 1.5, "learning_rate": 1e-4}
    assert parse_console_metrics("Saving model checkpoint to /x") is None
    assert parse_console_metrics("{'a': __import__('os')}") is None


def test_checkpoints_found_in_step_order(tmp_path):
    for step in (500, 1500, 1000):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-2000").mkdir()  # being written
    (tmp_path / "checkpoint-x").mkdir()
    cps = find_checkpoints(tmp_path)
    assert [c.step for c in cps] == [500, 1000, 1500, 2000]
    assert [c.complete for c in cps] == [True, True, True, False]
    assert find_checkpoints(tmp_path / "missing") == []


def test_live_run_is_watched_while_it_grows(ws, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_STEPS", "30")
    job = start_training(ws, "lora_sft", ["model=/m/q", "logging_steps=3", "save_steps=10", "eval_steps=10"])
    log = TrainerLog(job.output_dir)
    seen_steps = []

    def finished():
        log.poll()
        if log.progress.step is not None:
            seen_steps.append(log.progress.step)
        return jobs.get_job(ws, job.id).finished

    wait_for(finished, what="training to end")
    status = training_status(job.output_dir, log)
    p = status.progress
    assert seen_steps == sorted(seen_steps) and len(set(seen_steps)) > 2  # watched as it grew
    assert (p.step, p.total, p.percentage) == (30, 30, 100.0)
    assert [s for s, _ in p.losses] == [float(s) for s in range(3, 31, 3)]
    assert len(p.eval_losses) == 3 and p.throughput is not None and p.total_tokens == 2048 * 30
    assert p.errors == []  # the stand-in writes each line in two pieces: no torn line counted as bad
    assert [c.step for c in status.checkpoints] == [10, 20, 30] and all(c.complete for c in status.checkpoints)
    assert status.finished and "train_loss" in status.results
    assert last_progress(job.output_dir).text == "30/30 100% loss 0.2575"  # the closing record has no loss: the last one
    assert job_progress(jobs.get_job(ws, job.id)).done == 30


def test_sample_workspace_run_reads_without_errors(repo_root):
    out = repo_root / "data" / "sample_workspace" / "train"
    runs = [p for p in out.iterdir() if (p / "trainer_log.jsonl").is_file()] if out.is_dir() else []
    if not runs:
        pytest.skip("no sample training run shipped")
    for run in runs:
        records = [json.loads(line) for line in (run / "trainer_log.jsonl").read_text().splitlines() if line.strip()]
        status = training_status(run)
        p = status.progress
        assert p.errors == [] and p.records == len(records)
        assert len(p.losses) == sum("loss" in r for r in records)
        assert len(p.eval_losses) == sum("eval_loss" in r for r in records)
        assert (p.step, p.total) == (records[-1]["current_steps"], records[-1]["total_steps"])
        dirs = sorted(int(d.name.split("-")[1]) for d in run.glob("checkpoint-*") if d.is_dir())
        assert [c.step for c in status.checkpoints] == dirs
        assert status.finished == (run / "all_results.json").is_file()
