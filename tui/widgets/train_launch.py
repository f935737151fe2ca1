"""The form to launch a LLaMA-Factory run: a template, its placeholders, GPUs; dismisses with the request."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

AUTO_FILLED = {"config_dir", "dataset_dir"}
"""Placeholders core fills itself (the template's folder, the workspace's exports)."""


@dataclass
class TrainRequest:
    """What the user asked to launch."""

    template: str
    overrides: dict[str, str] = field(default_factory=dict)
    gpus: str = ""


class TrainLaunchScreen(ModalScreen[TrainRequest | None]):
    """Pick a template from configs/llamafactory and fill its placeholders."""

    DEFAULT_CSS = """
    TrainLaunchScreen { align: center middle; }
    TrainLaunchScreen > Vertical { width: 100; max-width: 100%; height: 90%; border: thick $accent; background: $surface; padding: 0 1; }
    TrainLaunchScreen #launch-fields { height: 1fr; }
    TrainLaunchScreen .field { height: 3; }
    TrainLaunchScreen .field Label { width: 16; padding-top: 1; }
    TrainLaunchScreen .field Input { width: 1fr; }
    TrainLaunchScreen #launch-buttons { height: 3; align-horizontal: right; }
    TrainLaunchScreen #launch-error { color: $error; height: auto; }
    """
    BINDINGS = [
        Binding("ctrl+s,f2", "launch", "Launch", id="trainlaunch.launch", tooltip="Start the run as a detached job"),
        Binding("ctrl+g,f10", "cancel", "Cancel", id="trainlaunch.cancel", tooltip="Close without launching"),
    ]

    def __init__(self, templates: list, defaults: dict[str, str] | None = None) -> None:
        super().__init__()
        self.templates = {t.name: t for t in templates}
        self.defaults = defaults or {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Launch a LLaMA-Factory run", classes="pane-title")
            options = [(f"{t.name} — {t.description}" if t.description else t.name, t.name) for t in self.templates.values()]
            yield Select(options, value=next(iter(self.templates), Select.BLANK), allow_blank=False, id="launch-template")
            yield VerticalScroll(id="launch-fields", can_focus=False)
            yield Static("", id="launch-error")
            with Horizontal(id="launch-buttons"):
                yield Button("Launch [ctrl+s]", id="launch-go", variant="success")
                yield Button("Cancel [ctrl+g]", id="launch-cancel")

    def on_mount(self) -> None:
        self._show_fields()

    @on(Select.Changed, "#launch-template")
    def _template_changed(self) -> None:
        self._show_fields()

    @property
    def template_name(self) -> str:
        return str(self.query_one("#launch-template", Select).value)

    def _show_fields(self) -> None:
        box = self.query_one("#launch-fields", VerticalScroll)
        box.remove_children()
        template = self.templates.get(self.template_name)
        if template is None:
            return
        rows = []
        for ph in template.placeholders:
            if ph.name in AUTO_FILLED:
                continue
            hint = f"default {ph.default}" if ph.default not in (None, "") else ("required" if ph.required else "optional")
            if ph.name == "output_dir" and ph.default is None:
                hint = "default: the workspace's train/<job id>"
            value = self.defaults.get(ph.name, "")
            rows.append(Horizontal(Label(ph.name), Input(value=value, placeholder=hint, id=f"ph-{ph.name}"), classes="field"))
        rows.append(Horizontal(Label("gpus"), Input(placeholder="e.g. 0,1 (blank: all visible)", id="launch-gpus"), classes="field"))
        rows.append(Horizontal(Label("extra"), Input(placeholder="key=value ... (any LLaMA-Factory key)", id="launch-extra"), classes="field"))
        box.mount_all(rows)
        self.show_error("")

    def _request(self) -> TrainRequest:
        overrides: dict[str, str] = {}
        for field_input in self.query("#launch-fields Input"):
            if field_input.id and field_input.id.startswith("ph-") and field_input.value.strip():
                overrides[field_input.id[3:]] = field_input.value.strip()
        extra = self.query_one("#launch-extra", Input).value.split()
        for item in extra:
            key, sep, value = item.partition("=")
            if sep:
                overrides[key] = value
        return TrainRequest(self.template_name, overrides, self.query_one("#launch-gpus", Input).value.strip())

    def show_error(self, text: str) -> None:
        """Keep the form open and say what is wrong."""
        self.query_one("#launch-error", Static).update(text)

    def action_launch(self) -> None:
        request = self._request()
        template = self.templates.get(request.template)
        missing = [ph.name for ph in (template.placeholders if template else [])
                   if ph.required and ph.name not in AUTO_FILLED and ph.name not in {"output_dir", "export_dir"}
                   and ph.name not in request.overrides]
        if missing:
            self.show_error(f"needed: {', '.join(missing)}")
            self.query_one(f"#ph-{missing[0]}", Input).focus()
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#launch-go")
    def _go(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#launch-cancel")
    def _cancel(self) -> None:
        self.action_cancel()
