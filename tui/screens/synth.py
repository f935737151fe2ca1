"""The synthesis screen: start or attach to a synthesis job; accepted/rejected counts and the latest items."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, ProgressBar, Static

from mathbench.tui.widgets.common import WorkbenchScreen, duration, one_line, short_path
from mathbench.tui.widgets.log_view import LogView

LATEST = 50
"""How many of the newest accepted and rejected items are kept for display."""


@dataclass(frozen=True)
class SynthView:
    """An immutable snapshot of one synthesis output."""

    accepted: int
    rejected: int
    errors: int
    total: int | None
    state: str | None
    job_state: str | None
    latest_accepted: tuple[dict, ...]
    latest_rejected: tuple[dict, ...]
    started: float | None


class SynthPolled(Message):
    """A fresh read of the watched synthesis output is ready."""

    def __init__(self, view: SynthView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SynthPolled)


class SynthFound(Message):
    """The synthesis to watch was found (the newest job, else the newest output; None when there is none)."""

    def __init__(self, out: Path | None, job_id: str | None, log_path: Path | None) -> None:
        super().__init__()
        self.out = out
        self.job_id = job_id
        self.log_path = log_path


class SynthStartFailed(Message):
    """A synthesis job could not be started."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class SynthJobStarted(Message):
    """A synthesis job was started (*state* "failed" when it ended at once)."""

    def __init__(self, job_id: str, out: Path, log_path: Path, state: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.out = out
        self.log_path = log_path
        self.state = state


def _json_lines(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


class SynthScreen(WorkbenchScreen):
    """Watches a synthesis output (its .jsonl log, .rejected.jsonl and .synth.json) and the job writing it."""

    TITLE = "Synth"
    CSS_PATH = "../styles/synth.tcss"
    AUTO_FOCUS = "#synth-accepted"
    BINDINGS = [
        Binding("n", "start", "Start", id="synth.start", tooltip="Start a synthesis job (scheme 3 from pairs, 1 from topics)"),
        Binding("o", "open_output", "Open output", id="synth.open", tooltip="Watch a synthesis output file"),
        Binding("s", "stop", "Stop", id="synth.stop", tooltip="Stop the synthesis job (it resumes where it stopped)"),
        Binding("l", "focus_log", "Log filter", id="synth.log", tooltip="Filter the job's log"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._poll_lock = threading.Lock()
        self.out: Path | None = None
        """The synthesis output being watched (its .jsonl log)."""
        self.job_id: str | None = None
        self.log_path: Path | None = None
        """The log of the job writing the output, when there is one."""
        self.view: SynthView | None = None
        self._readers: dict | None = None
        self._counts = {"accepted": 0, "rejected": 0, "errors": 0}
        self._latest_accepted: deque = deque(maxlen=LATEST)
        self._latest_rejected: deque = deque(maxlen=LATEST)

    def compose_body(self) -> ComposeResult:
        with Vertical(id="synth-body"):
            yield Static("", id="synth-source")
            with Horizontal(id="synth-progress-row"):
                yield ProgressBar(total=1, show_eta=False, id="synth-progress")
                yield Static("", id="synth-counts")
            with Horizontal(id="synth-tables"):
                with Vertical():
                    yield Static("latest accepted", classes="pane-title")
                    yield DataTable(id="synth-accepted", cursor_type="row", zebra_stripes=True)
                with Vertical():
                    yield Static("latest rejected", classes="pane-title")
                    yield DataTable(id="synth-rejected", cursor_type="row", zebra_stripes=True)
            yield LogView(id="synth-log")

    def on_mount(self) -> None:
        accepted = self.query_one("#synth-accepted", DataTable)
        accepted.add_columns("id", "answer", "problem")
        rejected = self.query_one("#synth-rejected", DataTable)
        rejected.add_columns("id", "reason")
        if self.out is None:
            self.pick_default()
        else:
            self._start_watching()
        self.set_interval(1.0, self._tick)

    @work(thread=True, exclusive=True, group="synth-pick", exit_on_error=False)
    def pick_default(self) -> None:
        """The newest synthesis job, else the newest .jsonl in the workspace's synth/ folder."""
        from mathbench.core.jobs.registry import list_jobs

        try:
            jobs = [j for j in list_jobs(self.workspace, kind="synth") if j.meta.get("out")]
        except Exception:  # noqa: BLE001 - an unreadable jobs folder still leaves synth/ to look at
            jobs = []
        if jobs:
            job = ([j for j in jobs if j.active] or jobs)[0]
            self.post_message(SynthFound(Path(job.meta["out"]), job.id, job.log_path))
            return
        root = self.workspace.synth_dir
        outs = [p for p in root.glob("*.jsonl") if not p.name.endswith(".rejected.jsonl")] if root.is_dir() else []
        self.post_message(SynthFound(max(outs, key=lambda p: p.stat().st_mtime) if outs else None, None, None))

    def on_synth_found(self, message: SynthFound) -> None:
        if message.out is None:
            self.query_one("#synth-source", Static).update(
                "No synthesis yet: [b]n[/b] starts one (a teacher model solves known pairs or invents problems).")
        elif self.out is None or message.job_id is not None:
            self.follow_output(message.out, job_id=message.job_id, log_path=message.log_path)

    def follow_output(self, out: Path, *, job_id: str | None = None, log_path: Path | None = None) -> None:
        """Watch the synthesis output *out* (and the job writing it, whose log is *log_path*)."""
        self.out, self.job_id, self.log_path = Path(out), job_id, log_path
        self._readers = None
        self._counts = {"accepted": 0, "rejected": 0, "errors": 0}
        self._latest_accepted.clear()
        self._latest_rejected.clear()
        self.view = None
        if self.is_mounted:
            self._start_watching()

    @work(thread=True, exclusive=True, group="synth-pick", exit_on_error=False)
    def attach_job(self, job_id: str) -> None:
        """Watch the output of synthesis job *job_id* (called by the jobs screen)."""
        from mathbench.core.jobs.registry import get_job

        job = get_job(self.workspace, job_id)
        out = job.meta.get("out")
        self.post_message(SynthFound(Path(out) if out else self.workspace.synth_dir / f"{job.id}.jsonl", job.id,
                                     job.log_path))

    def _start_watching(self) -> None:
        job_text = f"job [b]{self.job_id}[/b] → " if self.job_id else ""
        self.query_one("#synth-source", Static).update(f"{job_text}{short_path(self.out, self.workspace.root)}")
        self.query_one("#synth-log", LogView).follow(self.log_path)
        self.poll_synth()

    def _tick(self) -> None:
        if self.out is not None:
            self.poll_synth()

    @work(thread=True, exclusive=True, group="synth-poll", exit_on_error=False)
    def poll_synth(self) -> None:
        # Thread workers are not stopped when an exclusive one replaces them: one poll at a time.
        with self._poll_lock:
            self._poll_synth_once()

    def _poll_synth_once(self) -> None:
        from mathbench.core.jobs.registry import IncrementalReader, get_job
        from mathbench.core.datasets.synth import sidecar_paths

        if self.out is None:
            return
        paths = sidecar_paths(self.out)
        if self._readers is None:
            self._readers = {"log": IncrementalReader(paths["log"]), "rejected": IncrementalReader(paths["rejected"])}
        for item in _json_lines(self._readers["log"].read_lines()):
            self._counts["accepted"] += 1
            self._latest_accepted.append(item)
        for rec in _json_lines(self._readers["rejected"].read_lines()):
            is_error = str(rec.get("reason", "")).startswith("error")
            self._counts["errors" if is_error else "rejected"] += 1
            self._latest_rejected.append(rec)
        status = {}
        try:
            status = json.loads(paths["status"].read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            status = {}
        job_state = None
        if self.job_id:
            try:
                job_state = get_job(self.workspace, self.job_id).state
            except Exception:  # noqa: BLE001
                job_state = None
        self.post_message(SynthPolled(SynthView(
            accepted=self._counts["accepted"], rejected=self._counts["rejected"], errors=self._counts["errors"],
            total=status.get("total"), state=status.get("state"), job_state=job_state,
            latest_accepted=tuple(self._latest_accepted), latest_rejected=tuple(self._latest_rejected),
            started=status.get("started"),
        )))

    def on_synth_polled(self, message: SynthPolled) -> None:
        view = message.view
        previous, self.view = self.view, view
        handled = view.accepted + view.rejected + view.errors
        bar = self.query_one("#synth-progress", ProgressBar)
        bar.update(total=view.total or max(1, handled), progress=handled)
        row = [Text(f"accepted {view.accepted}", style="bold green"), Text(f"rejected {view.rejected}", style="yellow"),
               Text(f"errors {view.errors}", style="red"), Text(f"{handled}/{view.total or '?'}")]
        if view.started:
            elapsed = time.time() - view.started
            row.append(Text(f"{duration(elapsed)}"))
            if handled and view.total and (view.job_state in ("running", "starting") or view.state == "running"):
                row.append(Text(f"ETA {duration(elapsed / handled * (view.total - handled))}"))
        row.append(Text(view.job_state or view.state or "", style="bold"))
        # Joined text wraps at a narrow width instead of cutting the numbers off.
        self.query_one("#synth-counts", Static).update(Text("  ").join(part for part in row if part.plain))
        if previous is None or previous.latest_accepted != view.latest_accepted:
            table = self.query_one("#synth-accepted", DataTable)
            table.clear()
            for item in reversed(view.latest_accepted):
                turns = item.get("conversations") or []
                problem = turns[0].get("value", "") if turns and isinstance(turns[0], dict) else ""
                table.add_row(one_line(item.get("id"), 16), one_line(item.get("answer"), 14), one_line(problem, 90))
        if previous is None or previous.latest_rejected != view.latest_rejected:
            table = self.query_one("#synth-rejected", DataTable)
            table.clear()
            for rec in reversed(view.latest_rejected):
                table.add_row(one_line(rec.get("id"), 16), one_line(rec.get("reason"), 80))

    # actions ------------------------------------------------------------------------------
    def start_on_pairs(self, pairs: Path) -> None:
        """Open the start form on a pairs file (a run's missed problems, written from Results or Report)."""
        self.action_start(str(pairs))

    def action_start(self, pairs: str = "") -> None:
        from mathbench.tui.widgets.data_synth_form import SynthFormScreen

        stamp = time.strftime("%Y%m%d-%H%M%S")
        defaults = {"out": f"synth/synth-{stamp}.jsonl", "concurrency": "16"}
        if pairs:
            defaults.update(pairs=pairs, out=f"synth/{Path(pairs).stem}-items.jsonl")
        url = getattr(self.app, "endpoint_url", None)
        if url:
            defaults["base_url"] = url
            if getattr(self.app, "endpoint_model", None):
                defaults["model"] = self.app.endpoint_model

        def chosen(values: dict | None) -> None:
            if values:
                self.start_synth(values)

        self.app.push_screen(SynthFormScreen(defaults), chosen)

    @work(thread=True, exclusive=True, group="synth-start", exit_on_error=False)
    def start_synth(self, values: dict) -> None:
        from mathbench.core.jobs.commands import synth_command
        from mathbench.core.jobs.registry import start_job, tail_log
        from mathbench.core.jobs.serving import workspace_api_key

        root = self.workspace.root
        out = Path(values["out"]).expanduser()
        out = out if out.is_absolute() else root / out
        options = {k: v for k, v in values.items() if k not in ("out", "topics")}
        options["topic"] = [t.strip() for t in values.get("topics", "").split(",") if t.strip()]
        argv = synth_command(root, out, **options)
        key = workspace_api_key(self.workspace, create=False)  # handed over in a 0600 file, never in env/argv
        try:
            job = start_job(self.workspace, "synth", argv, api_key=key, cwd=root,
                            meta={"out": str(out), "title": f"synth {values['model']} → {out.name}"})
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.post_message(SynthStartFailed(str(exc)))
            return
        if job.state == "failed":
            detail = " / ".join(line for line in tail_log(job, 3) if line.strip()) or f"exit code {job.exit_code}"
            self.post_message(SynthStartFailed(f"the synthesis job {job.id} ended at once: {detail}"))
        self.post_message(SynthJobStarted(job.id, out, job.log_path, job.state))

    def on_synth_job_started(self, message: SynthJobStarted) -> None:
        if message.state != "failed":
            self.notify(f"Synthesis job {message.job_id} started.", title="Synth")
        self.follow_output(message.out, job_id=message.job_id, log_path=message.log_path)

    def on_synth_start_failed(self, message: SynthStartFailed) -> None:
        self.notify(message.error, title="Synth: start failed", severity="error", timeout=10)

    def action_open_output(self) -> None:
        from mathbench.tui.widgets.jobs_path_prompt import PromptScreen

        def chosen(path: str | None) -> None:
            if path:
                target = Path(path).expanduser()
                if not target.is_absolute():
                    target = self.workspace.root / target
                self.follow_output(target)

        self.app.push_screen(PromptScreen("Watch a synthesis output (.jsonl):", str(self.out or ""), "synth/NAME.jsonl"), chosen)

    def action_stop(self) -> None:
        if not self.job_id or (self.view and self.view.job_state not in ("starting", "running")):
            self.notify("The watched synthesis is not a running job.", title="Synth")
            return
        from mathbench.tui.widgets.confirm import ConfirmScreen

        job_id = self.job_id

        def answered(yes: bool | None) -> None:
            if yes:
                self.stop_synth(job_id)

        self.app.push_screen(ConfirmScreen(f"Stop synthesis job [b]{job_id}[/b]?\nRe-running it resumes where it stopped.",
                                           yes="Stop"), answered)

    @work(thread=True, group="synth-stop", exit_on_error=False)
    def stop_synth(self, job_id: str) -> None:
        from mathbench.core.jobs import stop_job

        job = stop_job(self.workspace, job_id)
        self.app.call_from_thread(self.notify, f"Synthesis job {job_id} is {job.state}.", title="Synth")

    def action_focus_log(self) -> None:
        self.query_one("#synth-log Input").focus()
