"""The form to launch a LLaMA-Factory run: a template, its placeholders, GPUs; dismisses with the request."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
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


class PreviewMade(Message):
    """The command a launch would run and what stands in its way, worked out in a thread."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def preview_text(preflight) -> str:
    """A preflight as Rich markup: the exact command, notes, warnings, and what blocks the launch."""
    from rich.markup import escape

    lines = [f"[b]command[/b] {escape(preflight.command_line())}"]
    lines += [f"[dim]note: {escape(n)}[/]" for n in preflight.notes]
    lines += [f"[yellow]warning: {escape(c.text())}[/]" for c in preflight.warnings]
    lines += [f"[red]cannot launch: {escape(c.text())}[/]" for c in preflight.problems]
    return "\n".join(lines)


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
    TrainLaunchScreen #launch-preview { height: auto; max-height: 6; }
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
            yield Static("", id="launch-preview")
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
        self.call_after_refresh(self._update_preview)

    @on(Input.Changed)
    def _field_changed(self) -> None:
        self._update_preview()

    def _update_preview(self) -> None:
        try:
            request = self._request()
        except Exception:  # noqa: BLE001 - the fields are being rebuilt
            return
        self.make_preview(request)

    @work(thread=True, exclusive=True, group="train-preview", exit_on_error=False)
    def make_preview(self, request: TrainRequest) -> None:
        """What `llamafactory-cli` would get, checked against this machine (reads templates, PATH, /dev)."""
        from mathbench.core.jobs.training import preview_training

        workspace = getattr(self.app, "workspace", None)
        if workspace is None:
            return
        try:
            launch = preview_training(workspace, request.template, request.overrides, gpus=request.gpus or None)
        except Exception as exc:  # noqa: BLE001 - a half-filled form is normal
            self.post_message(PreviewMade(f"[dim]{exc}[/]"))
            return
        self.post_message(PreviewMade(preview_text(launch.preflight)))

    def on_preview_made(self, message: PreviewMade) -> None:
        self.query_one("#launch-preview", Static).update(message.text)

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
