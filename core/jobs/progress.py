"""How far each job has got (training from trainer_log.jsonl, others from progress.json or their run) and its summary."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mathbench.core.jobs.registry import Job, Progress, tail_log, write_json_atomic
from mathbench.core.jobs.training.log import last_progress

PROGRESS_FILE = "progress.json"



def report_progress(done: float | None, total: float | None = None, text: str = "") -> None:
    """Called from inside a job's process: record progress where `mathbench jobs` reads it (no-op outside a job)."""
    jdir = os.environ.get("MATHBENCH_JOB_DIR")
    if not jdir:
        return
    write_json_atomic(Path(jdir) / PROGRESS_FILE, {"done": done, "total": total, "text": text, "time": time.time()})


def job_progress(job: Job) -> Progress | None:
    """Progress for the jobs list: training from trainer_log.jsonl, others from progress.json or meta."""
    if job.kind == "train" and job.output_dir:
        prog = last_progress(job.output_dir, ended=job.finished)
        if prog is None and job.active:
            return Progress(text="loading the model")
        return prog
    path = job.dir / PROGRESS_FILE
    if path.is_file():
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return Progress(d.get("done"), d.get("total"), str(d.get("text") or ""))
        except (OSError, json.JSONDecodeError, AttributeError):
            return None
    run_dir = job.meta.get("run_dir")
    if run_dir:
        from mathbench.core.evaluation.listing import count_done

        done, planned = count_done(run_dir)  # distinct problems: a re-run item counts once
        total = job.meta.get("total") or planned
        text = f"{done}/{total}" if total else f"{done} done"
        return Progress(done, total, text)
    if job.kind == "serve" and job.url:
        return Progress(text=job.url)
    return None


def job_summary(job: Job, *, tail: int = 5) -> dict:
    """A job as one JSON-able dict for `mathbench jobs --json` and the jobs list: record, progress, failed log tail."""
    d = job.to_dict()
    prog = job_progress(job)
    d["progress"] = prog.to_dict() if prog else None
    d["log_tail"] = tail_log(job, tail) if job.state == "failed" else []
    return d

