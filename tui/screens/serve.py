"""The server screen: launch vLLM as a job or attach by URL; milestones, load over time, health, models, log."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from mathbench.tui.widgets.common import WorkbenchScreen, one_line, short_path
from mathbench.tui.widgets.log_view import LogView
from mathbench.tui.widgets.chart import Chart, ChartData, Series

HEALTH_STYLES = {"ready": "bold green", "down": "red", "unhealthy": "bold red", "no-health": "yellow"}
MILESTONE_LABELS = (
    ("loading", "model"),
    ("weights_loaded", "weights loaded (s)"),
    ("model_loaded", "model memory"),
    ("kv_cache_memory", "KV cache (GiB)"),
    ("kv_cache_tokens", "KV cache tokens"),
    ("max_concurrency", "max concurrency"),
    ("engine_init", "engine init (s)"),
    ("api_server", "API server"),
    ("ready", "ready"),
)


@dataclass(frozen=True)
class ServeView:
    """An immutable snapshot of one server for the screen."""

    milestones: dict
    errors: tuple[str, ...]
    shutdown: bool
    engine_dead: bool
    root_cause: str | None
    health: str | None
    models: tuple[str, ...]
    max_model_len: int | None
    latest: dict
    job_state: str | None
    probe_error: str | None
    throughput_chart: ChartData
    requests_chart: ChartData
    kv_chart: ChartData


class ServerPolled(Message):
    """A fresh look at the watched server (log and HTTP) is ready."""

    def __init__(self, view: ServeView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ServerPolled)


class ServerFound(Message):
    """The server to watch was found: a serve job (with its URL and log) or a log file; all None when none."""

    def __init__(self, url: str | None, log_path: Path | None, job_id: str | None) -> None:
        super().__init__()
        self.url = url
        self.log_path = log_path
        self.job_id = job_id


class ServerLaunched(Message):
    """A server job was started."""

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id


class ServeFailed(Message):
    """A launch or stop could not be done."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class ServeScreen(WorkbenchScreen):
    """One server at a time: a serve job, a URL started elsewhere, or a recorded log."""

    TITLE = "Serve"
    CSS_PATH = "../styles/serve.tcss"
    AUTO_FOCUS = "#serve-log LogLines"
    BINDINGS = [
        Binding("n", "launch", "Launch", id="serve.launch", tooltip="Start vllm serve (or llamafactory-cli api) as a job"),
        Binding("u", "attach_url", "Attach URL", id="serve.attach", tooltip="Watch a server started elsewhere, by URL"),
        Binding("o", "open_log", "Open log", id="serve.open", tooltip="Read a vLLM log file (milestones and stats)"),
        Binding("e", "use_endpoint", "Use endpoint", id="serve.use", tooltip="Offer this server to the Compose and Eval screens"),
        Binding("s", "stop", "Stop", id="serve.stop", tooltip="Stop the server job (asks first)"),
        Binding("l", "focus_log", "Log filter", id="serve.log", tooltip="Filter the log tail"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._poll_lock = threading.Lock()
        self.job_id: str | None = None
        """The serve job watched, if any."""
        self.url: str | None = None
        """The base URL probed for /health, /v1/models and /metrics."""
        self.log_path: Path | None = None
        """The server's log, when there is one."""
        self.view: ServeView | None = None
        self._server_log = None
        self._reader = None
        self._tracker = None
        self._started = time.time()
        self._last_probe = 0.0
        self._status = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="serve-body"):
            yield Static("", id="serve-source")
            with Horizontal(id="serve-top"):
                yield Static("", id="serve-stats")
                yield Chart(ChartData("throughput (tok/s)"), id="serve-throughput-chart")
                yield Chart(ChartData("requests"), id="serve-requests-chart")
                yield Chart(ChartData("KV cache %"), id="serve-kv-chart")
            yield LogView(id="serve-log")

    def on_mount(self) -> None:
        if self.job_id is None and self.url is None and self.log_path is None:
            self.pick_default()
        else:
            self._show_source()
            self.query_one("#serve-log", LogView).follow(self.log_path)
            self.poll_server()
        self.set_interval(1.0, self._tick)

    @work(thread=True, exclusive=True, group="serve-pick", exit_on_error=False)
    def pick_default(self) -> None:
        """The newest active serve job, else the newest serve job, else the newest log in logs/."""
        from mathbench.core.jobs.registry import list_jobs

        try:
            serve_jobs = list_jobs(self.workspace, kind="serve")
        except Exception:  # noqa: BLE001 - an unreadable jobs folder still leaves the sample log
            serve_jobs = []
        if serve_jobs:
            job = ([j for j in serve_jobs if j.active] or serve_jobs)[0]
            self.post_message(ServerFound(job.url, job.log_path, job.id))
            return
        logs_dir = self.workspace.logs_dir
        logs = sorted(logs_dir.glob("*.log"), key=lambda p: p.stat().st_mtime) if logs_dir.is_dir() else []
        self.post_message(ServerFound(None, logs[-1] if logs else None, None))

    def on_server_found(self, message: ServerFound) -> None:
        if message.job_id is None and message.log_path is None:
            self._show_source()
        elif message.job_id is not None or (self.job_id is None and self.url is None and self.log_path is None):
            self.follow_server(url=message.url, log_path=message.log_path, job_id=message.job_id)

    def follow_server(self, *, url: str | None = None, log_path: Path | None = None, job_id: str | None = None) -> None:
        """Watch a server by URL and/or log file (and the job that runs it); starts the series afresh."""
        from mathbench.core.jobs.registry import IncrementalReader
        from mathbench.core.jobs.serving import MetricsTracker, ServerLog

        self.url, self.log_path, self.job_id = url, (Path(log_path) if log_path else None), job_id
        self._server_log = ServerLog()
        self._reader = IncrementalReader(self.log_path) if self.log_path else None
        self._tracker = MetricsTracker()
        self._last_probe = 0.0
        self._status = None
        self.view = None
        if self.is_mounted:
            self._show_source()
            self.query_one("#serve-log", LogView).follow(self.log_path)
            self.poll_server()

    @work(thread=True, exclusive=True, group="serve-pick", exit_on_error=False)
    def attach_job(self, job_id: str) -> None:
        """Watch the server run by job *job_id* (called by the jobs screen)."""
        from mathbench.core.jobs.registry import get_job

        job = get_job(self.workspace, job_id)
        self.post_message(ServerFound(job.url, job.log_path, job.id))

    def _show_source(self) -> None:
        parts = []
        if self.job_id:
            parts.append(f"job [b]{self.job_id}[/b]")
        if self.url:
            parts.append(self.url)
        if self.log_path:
            parts.append(f"log {short_path(self.log_path, self.workspace.root)}")
        if self.log_path and not self.job_id and not self.url:
            parts.append("[yellow]recorded log, no live server[/]")
        text = " · ".join(parts) or "No server: [b]n[/b] launches one, [b]u[/b] attaches by URL, [b]o[/b] opens a log."
        self.query_one("#serve-source", Static).update(text)

    def _tick(self) -> None:
        self.poll_server()

    # reading ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="serve-poll", exit_on_error=False)
    def poll_server(self) -> None:
        # Thread workers are not stopped when an exclusive one replaces them: one poll at a time.
        with self._poll_lock:
            self._poll_server_once()

    def _poll_server_once(self) -> None:
        from mathbench.core.jobs.registry import get_job
        from mathbench.core.jobs.serving import server_status, workspace_api_key

        server_log, reader, tracker = self._server_log, self._reader, self._tracker
        if server_log is None:
            return
        if reader is not None:
            now = time.time()
            for line in reader.read_lines():
                server_log.feed(line, now)
        job_state = None
        if self.job_id:
            try:
                job_state = get_job(self.workspace, self.job_id).state
            except Exception:  # noqa: BLE001 - a removed job leaves its log to read
                job_state = None
        if self.url and time.monotonic() - self._last_probe >= 2.0:
            self._last_probe = time.monotonic()
            key = workspace_api_key(self.workspace, create=False)
            self._status = server_status(self.url, key, timeout=1.5)
            if self._status.metrics is not None:
                tracker.add(self._status.metrics)
        self.post_message(ServerPolled(self._make_view(server_log, tracker, self._status, job_state)))

    def _make_view(self, server_log, tracker, status, job_state) -> ServeView:
        points = [p for p in tracker.points if p.gen_tps is not None] if tracker else []
        if points:
            t0 = points[0].time
            xs = tuple(round(p.time - t0, 1) for p in points)
            prompt = tuple(p.prompt_tps or 0.0 for p in points)
            gen = tuple(p.gen_tps or 0.0 for p in points)
            running = tuple(p.running or 0.0 for p in points)
            waiting = tuple(p.waiting or 0.0 for p in points)
            kv = tuple(p.kv_cache_pct or 0.0 for p in points)
            source = "/metrics"
        else:
            stats = list(server_log.stats)
            xs = tuple(float(i) for i in range(len(stats)))
            prompt = tuple(s.prompt_tps for s in stats)
            gen = tuple(s.gen_tps for s in stats)
            running = tuple(float(s.running) for s in stats)
            waiting = tuple(float(s.waiting) for s in stats)
            kv = tuple(s.kv_cache_pct or 0.0 for s in stats)
            source = "log stats line"
        xlabel = "seconds" if points else "stats line #"
        latest = {"source": source}
        if xs:
            latest.update(prompt_tps=prompt[-1], gen_tps=gen[-1], running=running[-1], waiting=waiting[-1], kv=kv[-1])
        models: tuple[str, ...] = ()
        max_len = None
        if status is not None:
            models = tuple(m.id for m in status.models)
            max_len = next((m.max_model_len for m in status.models if m.max_model_len), None)
        return ServeView(
            milestones=dict(server_log.milestones), errors=tuple(server_log.errors[-3:]),
            shutdown=server_log.shutdown, engine_dead=server_log.engine_dead, root_cause=server_log.root_cause,
            health=status.health if status is not None else None, models=models, max_model_len=max_len,
            latest=latest, job_state=job_state, probe_error=status.error if status is not None else None,
            throughput_chart=ChartData("tok/s", (Series("prompt", xs, prompt), Series("gen", xs, gen)), xlabel=xlabel),
            requests_chart=ChartData("requests", (Series("running", xs, running), Series("waiting", xs, waiting)), xlabel=xlabel),
            kv_chart=ChartData("KV cache %", (Series("kv", xs, kv),), xlabel=xlabel),
        )

    def on_server_polled(self, message: ServerPolled) -> None:
        self.view = view = message.view
        self.query_one("#serve-stats", Static).update(_stats_table(view, self.url))
        self.query_one("#serve-throughput-chart", Chart).show(view.throughput_chart)
        self.query_one("#serve-requests-chart", Chart).show(view.requests_chart)
        self.query_one("#serve-kv-chart", Chart).show(view.kv_chart)

    # actions ------------------------------------------------------------------------------
    def action_launch(self) -> None:
        from mathbench.tui.widgets.serve_launch import ServeLaunchScreen

        def chosen(kwargs: dict | None) -> None:
            if kwargs:
                self.notify(f"Launching {kwargs['model']} …", title="Serve")
                self.launch_server(kwargs)

        self.app.push_screen(ServeLaunchScreen(), chosen)

    @work(thread=True, exclusive=True, group="serve-launch", exit_on_error=False)
    def launch_server(self, kwargs: dict) -> None:
        from mathbench.core.jobs.serving import start_server

        kwargs = dict(kwargs)
        model = kwargs.pop("model")
        try:
            job = start_server(self.workspace, model, **kwargs)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.post_message(ServeFailed("launch", str(exc)))
            return
        self.post_message(ServerLaunched(job.id))

    def on_server_launched(self, message: ServerLaunched) -> None:
        self.notify(f"Server job {message.job_id} started.", title="Serve")
        self.attach_job(message.job_id)

    def on_serve_failed(self, message: ServeFailed) -> None:
        self.notify(message.error, title=f"Serve: {message.what} failed", severity="error", timeout=10)

    def action_attach_url(self) -> None:
        from mathbench.tui.widgets.jobs_path_prompt import PromptScreen

        def chosen(url: str | None) -> None:
            if url:
                from mathbench.core.jobs.serving import api_base

                self.follow_server(url=api_base(url if "://" in url else f"http://{url}"))

        self.app.push_screen(PromptScreen("Attach to a server by URL:", self.url or "", "http://host:8000/v1"), chosen)

    def action_open_log(self) -> None:
        from mathbench.tui.widgets.jobs_path_prompt import PromptScreen

        def chosen(path: str | None) -> None:
            if path:
                target = Path(path).expanduser()
                if not target.is_absolute():
                    target = self.workspace.root / target
                if not target.is_file():
                    self.notify(f"{target}: no such file", severity="error")
                    return
                self.follow_server(url=self.url, log_path=target)

        self.app.push_screen(PromptScreen("Read a vLLM log file:", str(self.log_path or ""), "path to the log"), chosen)

    def action_use_endpoint(self) -> None:
        if not self.url:
            self.notify("No server URL to offer: attach or launch one first.", title="Serve")
            return
        # Read by the Compose screen (and offered to Eval) as the default endpoint.
        self.app.endpoint_url = self.url
        models = self.view.models if self.view else ()
        self.app.endpoint_model = models[0] if models else None
        self.notify(f"{self.url} is now the default endpoint.", title="Serve")

    def action_stop(self) -> None:
        if not self.job_id or (self.view and self.view.job_state not in ("starting", "running")):
            self.notify("The watched server is not a running job.", title="Serve")
            return
        from mathbench.tui.widgets.confirm import ConfirmScreen

        job_id = self.job_id

        def answered(yes: bool | None) -> None:
            if yes:
                self.stop_server(job_id)

        self.app.push_screen(ConfirmScreen(f"Stop server job [b]{job_id}[/b]?", yes="Stop"), answered)

    @work(thread=True, group="serve-stop", exit_on_error=False)
    def stop_server(self, job_id: str) -> None:
        from mathbench.core.jobs import stop_job

        try:
            job = stop_job(self.workspace, job_id)
        except Exception as exc:  # noqa: BLE001
            self.post_message(ServeFailed("stop", str(exc)))
            return
        self.app.call_from_thread(self.notify, f"Server job {job_id} is {job.state}.", title="Serve")

    def action_focus_log(self) -> None:
        self.query_one("#serve-log Input").focus()


def _milestone_text(name: str, value) -> str:
    if isinstance(value, dict):
        if name == "model_loaded":
            return f"{value.get('gib')} GiB in {value.get('seconds')} s"
        if name == "max_concurrency":
            return f"{value.get('x')}x at {value.get('tokens'):,} tokens"
    if name == "kv_cache_tokens" and isinstance(value, int):
        return f"{value:,}"
    if value is True:
        return "yes"
    return one_line(value, 40)


def _ready_text(view: ServeView, url: str | None) -> str:
    """`yes` only while the server is up; a stopped, dead or unreachable one says it was ready once."""
    gone = (view.shutdown or view.engine_dead or (url is not None and view.health in ("down", "unhealthy"))
            or view.job_state in ("stopped", "failed", "succeeded"))
    if not gone:
        return "yes"
    if view.job_state in ("stopped", "failed", "succeeded"):
        return f"no: the job is {view.job_state} (it was ready)"
    return "no: it was ready, then shut down" if view.shutdown else "no: it was ready, now down"


def _stats_table(view: ServeView, url: str | None) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    if url:
        health = view.health or "…"
        table.add_row("/health", f"[{HEALTH_STYLES.get(health, '')}]{health}[/]")
    if view.probe_error:
        table.add_row("[red]probe[/]", one_line(view.probe_error, 80))
    if view.job_state:
        table.add_row("job", view.job_state)
    if view.models:
        table.add_row("models", ", ".join(view.models))
    if view.max_model_len:
        table.add_row("max len", f"{view.max_model_len:,}")
    for name, label in MILESTONE_LABELS:
        if name == "ready" and name in view.milestones:
            table.add_row(label, _ready_text(view, url))
        elif name in view.milestones:
            table.add_row(label, _milestone_text(name, view.milestones[name]))
    if view.engine_dead:
        table.add_row("[red]engine[/]", "[bold red]died[/] " + one_line(view.root_cause or "", 60))
    latest = view.latest
    if "gen_tps" in latest:
        table.add_row("generation", f"{latest['gen_tps']:,.1f} tok/s")
        table.add_row("prompt", f"{latest['prompt_tps']:,.1f} tok/s")
        table.add_row("running", f"{latest['running']:.0f}  waiting {latest['waiting']:.0f}")
        table.add_row("KV cache", f"{latest['kv']:.1f}%")
        table.add_row("from", latest["source"])
    if not view.milestones and not latest.get("gen_tps") and not view.models:
        table.add_row("", "[dim]nothing seen yet[/]")
    for error in view.errors:
        table.add_row("[red]error[/]", one_line(error, 60))
    return table
