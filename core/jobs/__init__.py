"""Detached jobs and their registry, the command lines of every job kind, LLaMA-Factory training, vLLM serving, the GPU."""

from mathbench.core.jobs.commands import eval_command, synth_command
from mathbench.core.jobs.control import default_stop_signal, job_pids, kill_job, signal_job, stop_job, wait_job
from mathbench.core.jobs.logtail import IncrementalReader, tail_file
from mathbench.core.jobs.procs import pid_alive
from mathbench.core.jobs.progress import job_progress, job_summary, report_progress
from mathbench.core.jobs.registry import (
    KINDS, Job, JobError, Progress, follow_log, format_duration, free_port, get_job, list_jobs, new_secret,
    remove_job, reserve_job, start_job, tail_log,
)

__all__ = [
    "KINDS", "IncrementalReader", "Job", "JobError", "Progress", "default_stop_signal", "eval_command", "follow_log",
    "format_duration", "free_port", "get_job", "job_pids", "job_progress", "job_summary", "kill_job", "list_jobs",
    "new_secret", "pid_alive", "remove_job", "report_progress", "reserve_job", "signal_job", "start_job", "stop_job",
    "synth_command", "tail_file", "tail_log", "wait_job",
]
