"""The GPU screen: every GPU's utilisation, memory, temperature, power and processes, sampled each second."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message

from mathbench.tui.widgets.common import WorkbenchScreen
from mathbench.tui.widgets.gpu_panel import GpuPanel


class GpuSampled(Message):
    """A new NVML snapshot was taken (the monitor's history includes it)."""

    def __init__(self, snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GpuSampled)


class GpuScreen(WorkbenchScreen):
    """Samples core.gpu once a second while shown; a box without a GPU says so."""

    TITLE = "GPU"
    CSS_PATH = "../styles/gpu.tcss"
    AUTO_FOCUS = "#gpu-scroll"
    BINDINGS = [
        Binding("p", "pause", "Pause", id="gpu.pause", tooltip="Stop or resume sampling"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.monitor = None
        self.snapshot = None
        """The latest core.gpu.GpuSnapshot."""
        self.paused = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="gpu-scroll"):
            yield GpuPanel(id="gpu-panel")

    def on_mount(self) -> None:
        from mathbench.core.jobs.gpu import GpuMonitor

        self.monitor = GpuMonitor(history=120)
        self.query_one(GpuPanel).show(None)
        self.sample()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if not self.paused and self.is_current:
            self.sample()

    @work(thread=True, exclusive=True, group="gpu-sample", exit_on_error=False)
    def sample(self) -> None:
        self.post_message(GpuSampled(self.monitor.sample()))

    def on_gpu_sampled(self, message: GpuSampled) -> None:
        self.snapshot = message.snapshot
        width = max(10, min(60, self.size.width - 50))
        self.query_one(GpuPanel).show(message.snapshot, self.monitor, history_width=width)

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.notify("Sampling paused." if self.paused else "Sampling resumed.", title="GPU")
