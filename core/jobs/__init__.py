"""Detached jobs and their registry, the command lines of every job kind, LLaMA-Factory training, vLLM serving, the GPU."""

from mathbench.core.jobs.commands import eval_command, synth_command
from mathbench.core.jobs.logtail import IncrementalReader, tail_file
from mathbench.core.jobs.progress import job_progress, job_summary, report_progress
from mathbench.core.jobs.registry import (
    KINDS, Job, JobError, Progress, follow_log, format_duration, free_port, get_job, kill_job, list_jobs, new_secret,
    remove_job, reserve_job, start_job, stop_job, tail_log, wait_job,
)

__all__ = [
    "KINDS", "IncrementalReader", "Job", "JobError", "Progress", "eval_command", "follow_log", "format_duration",
    "free_port", "get_job", "job_progress", "job_summary", "kill_job", "list_jobs", "new_secret", "remove_job",
    "report_progress", "reserve_job", "start_job", "stop_job", "synth_command", "tail_file", "tail_log", "wait_job",
]
