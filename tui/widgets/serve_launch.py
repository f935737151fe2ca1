"""The form to launch a model server (vLLM or llamafactory-cli api); dismisses with start_server's arguments."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from mathbench.tui.widgets.train_launch import PreviewMade, preview_text

FIELDS = (
    ("model", "model path or HF id (required)"),
    ("served_model_name", "name clients use (default: the model)"),
    ("port", "8000"),
    ("tensor_parallel_size", "1"),
    ("lora", "NAME=PATH ... (serves LoRA adapters)"),
    ("gpus", "CUDA_VISIBLE_DEVICES, e.g. 0,1"),
    ("max_model_len", "e.g. 4096 (default: the model's)"),
    ("extra", "more engine flags, e.g. --enforce-eager"),
)


class ServeLaunchScreen(ModalScreen[dict | None]):
    """Dismisses with keyword arguments for core.serving.start_server (model included), or None."""

    DEFAULT_CSS = """
    ServeLaunchScreen { align: center middle; }
    ServeLaunchScreen > Vertical { width: 100; max-width: 100%; height: auto; max-height: 95%; border: thick $accent; background: $surface; padding: 0 1; }
    ServeLaunchScreen .field { height: 3; }
    ServeLaunchScreen .field Label { width: 22; padding-top: 1; }
    ServeLaunchScreen .field Input, ServeLaunchScreen .field Select { width: 1fr; }
    ServeLaunchScreen #serve-launch-buttons { height: 3; align-horizontal: right; }
    ServeLaunchScreen #serve-launch-preview { height: auto; max-height: 6; }
    """
    BINDINGS = [
        Binding("ctrl+s,f2", "launch", "Launch", id="servelaunch.launch", tooltip="Start the server as a detached job"),
        Binding("ctrl+g,f10", "cancel", "Cancel", id="servelaunch.cancel", tooltip="Close without launching"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Launch a model server (loopback, API key from the workspace)", classes="pane-title")
            with Horizontal(classes="field"):
                yield Label("engine")
                yield Select([("vllm serve", "vllm"), ("llamafactory-cli api", "llamafactory")], value="vllm",
                             allow_blank=False, id="serve-engine")
            for name, hint in FIELDS:
                with Horizontal(classes="field"):
                    yield Label(name)
                    yield Input(placeholder=hint, id=f"serve-{name}")
            yield Static("", id="serve-launch-preview")
            with Horizontal(id="serve-launch-buttons"):
                yield Button("Launch [ctrl+s]", id="serve-launch-go", variant="success")
                yield Button("Cancel [ctrl+g]", id="serve-launch-cancel")

    def _value(self, name: str) -> str:
        return self.query_one(f"#serve-{name}", Input).value.strip()

    def request(self) -> dict:
        """start_server's keyword arguments from the form (blank fields left to its defaults)."""
        kwargs: dict = {"model": self._value("model"), "engine": str(self.query_one("#serve-engine", Select).value)}
        if self._value("served_model_name"):
            kwargs["served_model_name"] = self._value("served_model_name")
        if self._value("port"):
            kwargs["port"] = int(self._value("port")) if self._value("port").isdigit() else self._value("port")
        if self._value("tensor_parallel_size"):
            kwargs["tensor_parallel_size"] = int(self._value("tensor_parallel_size") or 1)
        if self._value("lora"):
            kwargs["lora"] = self._value("lora").split()
        if self._value("gpus"):
            kwargs["gpus"] = self._value("gpus")
        if self._value("max_model_len"):
            kwargs["max_model_len"] = self._value("max_model_len")
        if self._value("extra"):
            kwargs["extra"] = self._value("extra").split()
        return kwargs

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        try:
            kwargs = self.request()
        except ValueError:
            return
        if kwargs.get("model"):
            self.make_preview(kwargs)

    @work(thread=True, exclusive=True, group="serve-preview", exit_on_error=False)
    def make_preview(self, kwargs: dict) -> None:
        """What the server job would run, checked here: the tool on PATH, a GPU or the CPU build, the port."""
        from mathbench.core.jobs.serving import preview_serve

        workspace = getattr(self.app, "workspace", None)
        if workspace is None:
            return
        kwargs = dict(kwargs)
        try:
            launch = preview_serve(workspace, kwargs.pop("model"), **kwargs)
        except Exception as exc:  # noqa: BLE001 - a half-filled form is normal
            self.post_message(PreviewMade(f"[dim]{exc}[/]"))
            return
        self.post_message(PreviewMade(preview_text(launch.preflight)))

    def on_preview_made(self, message: PreviewMade) -> None:
        self.query_one("#serve-launch-preview", Static).update(message.text)

    def action_launch(self) -> None:
        if not self._value("model"):
            self.notify("A model is needed.", severity="error")
            return
        try:
            self.dismiss(self.request())
        except ValueError as exc:
            self.notify(str(exc), severity="error")

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#serve-launch-go")
    def _go(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#serve-launch-cancel")
    def _cancel(self) -> None:
        self.action_cancel()
