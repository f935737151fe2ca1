"""Detached jobs and their registry, the command lines of every job kind, LLaMA-Factory training, vLLM serving, the GPU."""

from __future__ import annotations

from mathbench.core.lazy import lazy_exports

# Imported on first use, so that reading the job registry does not load every job kind's launcher.
_EXPORTS = {
    "eval_command": "commands", "synth_command": "commands",
    "default_stop_signal": "control", "job_pids": "control", "kill_job": "control", "signal_job": "control",
    "stop_job": "control", "wait_job": "control",
    "IncrementalReader": "logtail", "tail_file": "logtail",
    "pid_alive": "procs",
    "job_progress": "progress", "job_summary": "progress", "report_progress": "progress",
    **{name: "registry" for name in (
        "KINDS", "Job", "JobError", "Progress", "follow_log", "format_duration", "free_port", "get_job", "list_jobs",
        "new_secret", "remove_job", "reserve_job", "start_job", "tail_log")},
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, globals(), _EXPORTS)
