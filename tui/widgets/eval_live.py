"""Following an eval run live: the worker-side reader (over core's RunFollower), its messages, and the panel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import ProgressBar, Static

from mathbench.core.records import RunStatus
from mathbench.tui.widgets.common import VERDICT_MARKS, VERDICT_STYLES, duration, one_line, pct

BUSY_POLL_S = 0.25
IDLE_POLL_S = 1.0


class RunFollowStarted(Message):
    """Following *run_dir* began; what was already on disk is in the first RunProgressed."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir


class RunProgressed(Message):
    """New results (or a new state) were read from the followed run; a newer one replaces an older queued one."""

    def __init__(self, run_dir: Path, state: dict[str, Any]) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.state = state

    def can_replace(self, message: Message) -> bool:
        return type(message) is RunProgressed and message.run_dir == self.run_dir


class RunFollowEnded(RunProgressed):
    """The followed run has no writer any more: it finished, failed or was stopped (it is still watched)."""

    def can_replace(self, message: Message) -> bool:
        return False


def find_eval_job(workspace: Any, run_dir: Path) -> Any | None:
    """The newest eval job of the workspace that writes *run_dir*, if any."""
    from mathbench.core.jobs.registry import list_jobs

    wanted = str(Path(run_dir).resolve())
    for job in list_jobs(workspace, kind="eval"):
        recorded = job.meta.get("run_dir") or job.output_dir
        if recorded and str(Path(recorded).resolve()) == wanted:
            return job
    return None


class LiveRun:
    """What the Eval screen shows of one run: core's RunFollower, who writes the run, and human verdicts
    given meanwhile; used from a worker thread."""

    def __init__(self, run_dir: Path, workspace: Any) -> None:
        from mathbench.core.evaluation.follow import RunFollower

        self.follower = RunFollower(run_dir)
        self.run = self.follower.run
        self.workspace = workspace
        self.job_log: list[str] = []
        """The last lines a failed job printed (why it failed)."""
        self._adjudications_stamp: tuple | None = None

    def read(self) -> bool:
        """Take in what was appended (or re-read a cut-back file); True when anything changed."""
        changed = self._refresh_adjudications()
        live = self.follower.live
        records = self.follower.poll()
        # A file cut back and read again gives the follower a fresh summary: that is a change too.
        return bool(records) or changed or self.follower.live is not live

    def _refresh_adjudications(self) -> bool:
        """Apply human verdicts given meanwhile (the adjudication screen, another terminal)."""
        try:
            stat = self.run.adjudications_path.stat()
            stamp: tuple | None = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            stamp = None
        if stamp == self._adjudications_stamp:
            return False
        first = self._adjudications_stamp is None
        self._adjudications_stamp = stamp
        if not first:
            self.follower.refresh_adjudications()
        return not first

    def writer(self) -> tuple[str, str | None]:
        """(job state or "running" or the run's status, job id) of whatever writes this run now."""
        try:
            job = find_eval_job(self.workspace, self.run.path)
        except Exception:  # an unreadable jobs folder must not stop the live view
            job = None
        if job is not None and job.active:
            return RunStatus.RUNNING.value, job.id
        if self.run.is_running():
            # A writer started outside the workbench (`mathbench eval` in a shell) holds the lock.
            return RunStatus.RUNNING.value, None
        if job is not None:
            if job.state == "failed" and not self.job_log:
                from mathbench.core.jobs.registry import tail_log

                self.job_log = [line for line in tail_log(job, 4) if line.strip()]
            return job.state, job.id
        return self.follower.status(running=False).value, None

    def state(self, status: str, job_id: str | None) -> dict[str, Any]:
        """The follower's picture of the run, with who writes it and where the run stands."""
        run_status = self.follower.status(running=status == RunStatus.RUNNING.value).value
        return dict(self.follower.snapshot(), status=status, run_status=run_status, job_id=job_id,
                    job_log=list(self.job_log))


def follow_run(run_dir: Path, workspace: Any, post: Callable[[Message], object], cancelled: Callable[[], bool]) -> None:
    """Watch *run_dir* until *cancelled*: a RunProgressed when anything changes, a RunFollowEnded each time
    its writer goes away; a later writer (a resume from a shell) is picked up the same way."""
    live = LiveRun(run_dir, workspace)
    post(RunFollowStarted(run_dir))
    last_check = 0.0
    status, job_id = RunStatus.RUNNING.value, None
    was_running: bool | None = None
    first = True
    while not cancelled():
        changed = live.read()
        now = time.monotonic()
        if first or now - last_check > 1.0:
            new_status, job_id = live.writer()
            changed = changed or new_status != status
            status, last_check = new_status, now
        running = status == RunStatus.RUNNING.value
        if not running and was_running is not False:
            # The writer went away (or there was none): one last read of what it wrote, then say so.
            live.read()
            post(RunFollowEnded(run_dir, live.state(status, job_id)))
        elif changed or first:
            post(RunProgressed(run_dir, live.state(status, job_id)))
        was_running, first = running, False
        time.sleep(BUSY_POLL_S if running else IDLE_POLL_S)


class EvalLive(VerticalScroll):
    """The live panel: title, progress, rates, accuracy with its interval, by level and subject, last items."""

    def compose(self) -> ComposeResult:
        yield Static("Not following a run. Start one (ctrl+s) or attach (a).", id="eval-title")
        yield ProgressBar(show_eta=False, id="eval-progress")
        yield Static(id="eval-stats")
        yield Static(id="eval-accuracy")
        with Horizontal(id="eval-tables"):
            yield Static(id="eval-by-level")
            yield Static(id="eval-by-subject")
        yield Static("Last items", classes="pane-title")
        yield Static(id="eval-recent")
        yield Static(id="eval-errors")

    def show_title(self, text: str | Text) -> None:
        self.query_one("#eval-title", Static).update(text)

    def show(self, state: dict[str, Any]) -> None:
        """Draw *state* (a LiveRun.state())."""
        s = state["summary"]
        status = state["status"]
        status_style = {RunStatus.RUNNING: "bold yellow", "succeeded": "green", RunStatus.COMPLETE: "green"}.get(
            status, "magenta")
        title = Text.assemble((state["name"], "bold"), "  ", (str(state["model"] or "?"), "cyan"), " on ",
                              (str(state["benchmark"] or "?"), "cyan"), "  ", (status, status_style))
        if status != RunStatus.RUNNING.value and state["run_status"] == RunStatus.INCOMPLETE.value:
            title.append("  incomplete: r resumes", style="bold magenta")
        if state["job_id"]:
            title.append(f"  job {state['job_id']}", style="dim")
        self.show_title(title)
        total = state["total"] or max(1, state["done"])
        self.query_one(ProgressBar).update(total=total, progress=state["done"])
        rate = f"{state['rate']:.2f} items/s" if state["rate"] else "— items/s"
        tok = f" · {state['tok_rate']:.0f} tok/s" if state["tok_rate"] else ""
        eta = f" · ETA {duration(state['eta'])}" if state["eta"] is not None and status == "running" else ""
        self.query_one("#eval-stats", Static).update(
            f"[b]{state['done']:,}[/b] / {state['total'] or '?'} items · {rate}{tok}{eta} · "
            f"errors [magenta]{s['errors']}[/magenta]"
        )
        lo, hi = s["ci95"] or (None, None)
        self.query_one("#eval-accuracy", Static).update(
            f"accuracy [b]{pct(s['accuracy'])}[/b] [dim](95% CI {pct(lo)}–{pct(hi)})[/dim] · "
            f"[green]correct {s['correct']}[/] · [red]wrong {s['wrong']}[/] · [yellow]uncertain {s['uncertain']}[/]"
        )
        for group, widget in (("level", "#eval-by-level"), ("subject", "#eval-by-subject")):
            buckets = s.get(f"by_{group}") or {}
            self.query_one(widget, Static).update(_bucket_table(group, buckets) if buckets else "")
        self.query_one("#eval-recent", Static).update(_recent_text(state["recent"]))
        self.query_one("#eval-errors", Static).update(_errors_text(state))


def _bucket_table(group: str, buckets: dict) -> Table:
    table = Table(box=None, pad_edge=False, expand=True, show_edge=False)
    table.add_column(group, no_wrap=True, ratio=1, min_width=8)
    table.add_column("n", justify="right")
    table.add_column("acc", justify="right")
    table.add_column("95% CI", justify="right", style="dim")
    for key, b in buckets.items():
        label = f"Level {key}" if group == "level" and str(key).isdigit() else str(key)
        ci = b.get("ci95") or (None, None)
        # n is what the accuracy is over: errored items were not measured and are shown apart.
        n = f"{b['graded']}" + (f" +{b['errors']}err" if b.get("errors") else "")
        table.add_row(one_line(label, 22), n, pct(b["accuracy"]), f"{pct(ci[0], 0)}–{pct(ci[1], 0)}")
    return table


def _recent_text(recent: list[dict]) -> Text:
    text = Text()
    for item in recent:
        verdict = item["verdict"]
        text.append(f"{VERDICT_MARKS.get(verdict, '·')} ", style=VERDICT_STYLES.get(verdict, ""))
        text.append(f"{item['id']}", style="bold")
        if item["error"]:
            text.append(f"  error: {one_line(item['error'], 80)}\n", style="magenta")
            continue
        latency = f"{item['latency']:.1f}s" if isinstance(item["latency"], (int, float)) else ""
        text.append(f"  gold {one_line(item['gold'], 18)}  pred {one_line(item['pred'], 18)}  "
                    f"{item['reason'] or ''}  {latency}\n")
    return text or Text("no results yet", style="dim")


def _errors_text(state: dict[str, Any]) -> Text:
    text = Text()
    if state["errors"]:
        text.append("Errors (e re-runs them)\n", style="bold magenta")
        for item in state["errors"]:
            text.append(f"! {item['id']}  {one_line(item['error'], 100)}\n", style="magenta")
    for problem in state["problems"]:
        text.append(f"{problem}\n", style="red")
    if state.get("job_log"):
        text.append(f"The job {state['job_id']} failed:\n", style="bold red")
        for line in state["job_log"]:
            text.append(f"  {line}\n", style="red")
    return text
