"""The training screen: launch LLaMA-Factory as a job, or watch any output dir as trainer_log.jsonl grows."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import ProgressBar, Static

from mathbench.tui.widgets.common import WorkbenchScreen, duration, one_line, short_path
from mathbench.tui.widgets.log_view import LogView
from mathbench.tui.widgets.chart import Chart, ChartData, Series, downsample


@dataclass(frozen=True)
class TrainView:
    """An immutable snapshot of one training run, made in a worker for the screen to show."""

    output_dir: Path
    step: int | None
    total: int | None
    epoch: float | None
    percentage: float | None
    elapsed: float | None
    eta: float | None
    phase: str
    loss: float | None
    loss_ema: float | None
    eval_loss: float | None
    lr: float | None
    throughput: float | None
    total_tokens: int | None
    checkpoints: tuple[int, ...]
    finished: bool
    errors: tuple[str, ...]
    job_id: str | None
    job_state: str | None
    exit_code: int | None
    gpu_line: str
    log_path: Path | None
    loss_chart: ChartData
    lr_chart: ChartData


class TrainingPolled(Message):
    """A fresh snapshot of the watched run is ready."""

    def __init__(self, view: TrainView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainingPolled)


class TrainingFound(Message):
    """The run to watch was found (the newest job or output dir; None when there is none)."""

    def __init__(self, output_dir: Path | None, job_id: str | None) -> None:
        super().__init__()
        self.output_dir = output_dir
        self.job_id = job_id


class TrainingLaunched(Message):
    """A training job was started."""

    def __init__(self, job_id: str, output_dir: Path) -> None:
        super().__init__()
        self.job_id = job_id
        self.output_dir = output_dir


class TrainingStopped(Message):
    """The watched job ended after a stop request."""

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.state = state


class ActionFailed(Message):
    """A launch or stop could not be done; `error` says why."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


def _log_file(output_dir: Path, job) -> Path | None:
    """The log to tail: LlamaBoard's running_log.txt, else the job's output, else a .log in the dir."""
    from mathbench.core.jobs.training import RUNNING_LOG

    running = output_dir / RUNNING_LOG
    if running.is_file():
        return running
    if job is not None:
        return job.log_path
    logs = sorted(output_dir.glob("*.log")) if output_dir.is_dir() else []
    return logs[0] if logs else None


class TrainScreen(WorkbenchScreen):
    """Progress, loss and lr charts, checkpoints and the log of one training run."""

    TITLE = "Train"
    CSS_PATH = "../styles/train.tcss"
    AUTO_FOCUS = "#train-log LogLines"
    BINDINGS = [
        Binding("n", "launch", "New run", id="train.launch", tooltip="Launch llamafactory-cli train from a template"),
        Binding("o", "open_dir", "Open dir", id="train.open", tooltip="Watch any LLaMA-Factory output dir"),
        Binding("s", "stop", "Stop", id="train.stop", tooltip="Stop the watched job (SIGABRT: a clean LLaMA-Factory stop)"),
        Binding("l", "focus_log", "Log filter", id="train.log", tooltip="Filter the log tail"),
        Binding("r,f5", "reload", "Reload", id="train.reload", tooltip="Read the run again from the start"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._poll_lock = threading.Lock()
        self.output_dir: Path | None = None
        """The LLaMA-Factory output dir being watched."""
        self.job_id: str | None = None
        """The job that writes it, when it was started as a job."""
        self._log = None
        self.view: TrainView | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="train-body"):
            yield Static("", id="train-source")
            yield ProgressBar(total=100, show_eta=False, id="train-progress")
            with Horizontal(id="train-top"):
                yield Static("", id="train-stats")
                yield Chart(ChartData("loss"), id="train-loss-chart")
                yield Chart(ChartData("learning rate"), id="train-lr-chart")
            yield LogView(id="train-log")

    def on_mount(self) -> None:
        if self.output_dir is None:
            self.pick_default()
        else:
            self._show_source()
            self.poll_training()
        self.set_interval(1.0, self._tick)

    @work(thread=True, exclusive=True, group="train-pick", exit_on_error=False)
    def pick_default(self) -> None:
        """The newest train job, else the newest output dir in the workspace's train/ folder."""
        from mathbench.core.jobs.registry import list_jobs
        from mathbench.core.jobs.training import TRAINER_LOG

        try:
            train_jobs = [j for j in list_jobs(self.workspace, kind="train") if j.output_dir]
        except Exception:  # noqa: BLE001 - an unreadable jobs folder still leaves the sample run
            train_jobs = []
        if train_jobs:
            job = ([j for j in train_jobs if j.active] or train_jobs)[0]
            self.post_message(TrainingFound(Path(job.output_dir), job.id))
            return
        root = self.workspace.train_dir
        runs = [p for p in root.iterdir() if (p / TRAINER_LOG).is_file()] if root.is_dir() else []
        newest = max(runs, key=lambda p: (p / TRAINER_LOG).stat().st_mtime) if runs else None
        self.post_message(TrainingFound(newest, None))

    def on_training_found(self, message: TrainingFound) -> None:
        if message.output_dir is None:
            self._show_source()
        elif self.output_dir is None or message.job_id is not None:
            self.follow_run(message.output_dir, job_id=message.job_id)

    def follow_run(self, output_dir: str | Path, *, job_id: str | None = None) -> None:
        """Watch *output_dir* (written by job *job_id*, when known) from the start of its trainer log."""
        from mathbench.core.jobs.training import TrainerLog, TRAINER_LOG

        self.output_dir = Path(output_dir).expanduser().resolve()
        self.job_id = job_id
        self._log = TrainerLog(self.output_dir / TRAINER_LOG)
        self.view = None
        if self.is_mounted:
            self._show_source()
            self.poll_training()

    @work(thread=True, exclusive=True, group="train-pick", exit_on_error=False)
    def attach_job(self, job_id: str) -> None:
        """Watch the output dir of job *job_id* (called by the jobs screen)."""
        from mathbench.core.jobs.registry import get_job

        job = get_job(self.workspace, job_id)
        self.post_message(TrainingFound(Path(job.output_dir or job.dir), job.id))

    def _show_source(self) -> None:
        source = self.query_one("#train-source", Static)
        if self.output_dir is None:
            source.update("No training run yet: [b]n[/b] launches one, [b]o[/b] opens an output dir.")
            return
        job = f"job [b]{self.job_id}[/b] → " if self.job_id else ""
        recorded = "" if self.job_id else " · [yellow]recorded: no job writes it[/]"
        source.update(f"{job}{short_path(self.output_dir, self.workspace.root)}{recorded}")

    def _tick(self) -> None:
        if self._log is not None:
            self.poll_training()

    # reading ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="train-poll", exit_on_error=False)
    def poll_training(self) -> None:
        # Thread workers are not stopped when an exclusive one replaces them: one poll at a time.
        with self._poll_lock:
            self._poll_training_once()

    def _poll_training_once(self) -> None:
        from mathbench.core.jobs.gpu import status_line
        from mathbench.core.jobs.registry import get_job
        from mathbench.core.jobs.training import training_status

        log, output_dir, job_id = self._log, self.output_dir, self.job_id
        if log is None or output_dir is None:
            return
        job = None
        if job_id:
            try:
                job = get_job(self.workspace, job_id)
            except Exception:  # noqa: BLE001 - a removed job leaves the output dir to watch
                job = None
        if job is not None and job.finished:
            log.progress.ended = True
        status = training_status(output_dir, log)
        p = status.progress
        losses = downsample([s for s, _ in p.losses], [v for _, v in p.losses])
        smoothed = p.smoothed_losses
        smooth_xy = downsample([s for s, _ in smoothed], [v for _, v in smoothed])
        evals = ([s for s, _ in p.eval_losses], [v for _, v in p.eval_losses])
        lrs = downsample([s for s, _ in p.lrs], [v for _, v in p.lrs])
        loss_series = [Series("loss", *losses), Series("smoothed", *smooth_xy)]
        if evals[0]:
            loss_series.append(Series("eval_loss", tuple(evals[0]), tuple(evals[1])))
        view = TrainView(
            output_dir=output_dir, step=p.step, total=p.total, epoch=p.epoch, percentage=p.percentage,
            elapsed=p.elapsed, eta=p.eta, phase=p.phase, loss=p.loss, loss_ema=p.loss_ema, eval_loss=p.eval_loss,
            lr=p.lr, throughput=p.throughput, total_tokens=p.total_tokens,
            checkpoints=tuple(c.step for c in status.checkpoints), finished=status.finished,
            errors=tuple(p.errors[-3:]), job_id=job.id if job else None, job_state=job.state if job else None,
            exit_code=job.exit_code if job else None, gpu_line=status_line(), log_path=_log_file(output_dir, job),
            loss_chart=ChartData("loss", tuple(loss_series), xlabel="step"),
            lr_chart=ChartData("learning rate", (Series("lr", *lrs),), xlabel="step"),
        )
        self.post_message(TrainingPolled(view))

    def on_training_polled(self, message: TrainingPolled) -> None:
        view = message.view
        if view.output_dir != self.output_dir:
            return
        self.view = view
        self.query_one("#train-stats", Static).update(_stats_table(view))
        bar = self.query_one("#train-progress", ProgressBar)
        bar.update(total=100, progress=view.percentage or 0.0)
        self.query_one("#train-loss-chart", Chart).show(view.loss_chart)
        self.query_one("#train-lr-chart", Chart).show(view.lr_chart)
        log = self.query_one("#train-log", LogView)
        if log.path != view.log_path:
            log.follow(view.log_path)

    # actions ------------------------------------------------------------------------------
    def action_launch(self) -> None:
        from mathbench.core.jobs.training import list_templates

        from mathbench.tui.widgets.train_launch import TrainLaunchScreen

        def chosen(request) -> None:
            if request is not None:
                self.notify(f"Launching {request.template} …", title="Train")
                self.launch_training(request)

        self.app.push_screen(TrainLaunchScreen(list_templates()), chosen)

    @work(thread=True, exclusive=True, group="train-launch", exit_on_error=False)
    def launch_training(self, request) -> None:
        from mathbench.core.jobs.training import start_training

        try:
            job = start_training(self.workspace, request.template, request.overrides, gpus=request.gpus or None)
        except Exception as exc:  # noqa: BLE001 - a bad form is shown, not raised
            self.post_message(ActionFailed("launch", str(exc)))
            return
        self.post_message(TrainingLaunched(job.id, Path(job.output_dir or job.dir)))

    def on_training_launched(self, message: TrainingLaunched) -> None:
        self.notify(f"Job {message.job_id} started.", title="Train")
        self.follow_run(message.output_dir, job_id=message.job_id)

    def on_action_failed(self, message: ActionFailed) -> None:
        self.notify(message.error, title=f"Train: {message.what} failed", severity="error", timeout=10)

    def action_open_dir(self) -> None:
        from mathbench.tui.widgets.jobs_path_prompt import PromptScreen

        def chosen(path: str | None) -> None:
            if path:
                target = Path(path).expanduser()
                if not target.is_absolute():
                    target = self.workspace.root / target
                if not target.is_dir():
                    self.notify(f"{target}: no such folder", severity="error")
                    return
                self.follow_run(target)

        self.app.push_screen(PromptScreen("Watch a LLaMA-Factory output dir:", str(self.output_dir or ""),
                                          "folder holding trainer_log.jsonl"), chosen)

    def action_stop(self) -> None:
        if not self.job_id or (self.view and self.view.job_state not in (None, "starting", "running")):
            self.notify("The watched run is not a running job.", title="Train")
            return
        from mathbench.tui.widgets.confirm import ConfirmScreen

        job_id = self.job_id

        def answered(yes: bool | None) -> None:
            if yes:
                self.stop_training(job_id)

        self.app.push_screen(ConfirmScreen(f"Stop training job [b]{job_id}[/b]?\nLLaMA-Factory stops cleanly at the next step.",
                                           yes="Stop"), answered)

    @work(thread=True, group="train-stop", exit_on_error=False)
    def stop_training(self, job_id: str) -> None:
        from mathbench.core.jobs import stop_job

        try:
            job = stop_job(self.workspace, job_id)
        except Exception as exc:  # noqa: BLE001
            self.post_message(ActionFailed("stop", str(exc)))
            return
        self.post_message(TrainingStopped(job_id, job.state))

    def on_training_stopped(self, message: TrainingStopped) -> None:
        self.notify(f"Job {message.job_id} is {message.state}.", title="Train")

    def action_focus_log(self) -> None:
        self.query_one("#train-log Input").focus()

    def action_reload(self) -> None:
        if self.output_dir is not None:
            self.follow_run(self.output_dir, job_id=self.job_id)


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "—" if value is None else format(value, spec)


def _stats_table(view: TrainView) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=False)
    step = f"{view.step if view.step is not None else '—'}/{view.total or '—'}"
    if view.percentage is not None:
        step += f"  ({view.percentage:.1f}%)"
    table.add_row("step", step)
    table.add_row("state", view.phase)
    table.add_row("epoch", _fmt(view.epoch, ".2f"))
    table.add_row("elapsed", duration(view.elapsed))
    table.add_row("ETA", "—" if view.eta is None else duration(view.eta))
    table.add_row("loss", f"{_fmt(view.loss)}  (smoothed {_fmt(view.loss_ema)})")
    table.add_row("eval_loss", _fmt(view.eval_loss))
    table.add_row("lr", _fmt(view.lr, ".3g"))
    if view.throughput is not None:
        table.add_row("throughput", f"{view.throughput:,.0f} tok/s")
    ckpts = ", ".join(str(s) for s in view.checkpoints[-6:]) or "none yet"
    table.add_row("checkpoints", ckpts)
    if view.job_id:
        state = view.job_state or "?"
        if view.exit_code is not None and state == "failed":
            state += f" (exit {view.exit_code})"
        table.add_row("job", f"{view.job_id}: {state}")
    table.add_row("GPU", one_line(view.gpu_line, 60))
    for error in view.errors:
        table.add_row("[red]bad line[/]", one_line(error, 80))
    return table
