"""The form to start a synthesis job: every `mathbench synth` option, one row each, fitting 80×24 by scrolling."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

FIELDS = (
    ("pairs", "pairs file", "question/answer pairs, e.g. benchmarks/gsm8k_train.jsonl (scheme 3)"),
    ("topics", "topics", "or topics for new problems, comma separated (scheme 1)"),
    ("base_url", "base URL", "teacher's OpenAI base URL"),
    ("model", "model", "teacher model name"),
    ("out", "output", "output .jsonl in the workspace's synth/"),
    ("limit", "limit", "scheme 3: only the first N pairs"),
    ("count", "count", "scheme 1: problems per topic (default 10)"),
    ("difficulty", "difficulty", "scheme 1: difficulty words (default medium)"),
    ("concurrency", "concurrency", "requests in flight (default 16)"),
    ("dedupe_against", "dedupe against", "dataset whose problems are skipped"),
    ("fewshot", "few-shot from", "ShareGPT dataset of examples (default: the shipped ones)"),
    ("shots", "shots", "few-shot examples per request (default 2)"),
    ("prompt", "prompt", "zh (default), en, or a YAML file"),
    ("observation_from", "output role", "human (default) or observation"),
    ("max_rounds", "max rounds", "code blocks run per problem (default 1)"),
    ("temperature", "temperature", "default 0.7"),
    ("top_p", "top-p", "default 0.95"),
    ("max_tokens", "max tokens", "default 2048"),
    ("seed", "seed", "sampling and few-shot draw seed (default 0)"),
    ("timeout", "timeout", "seconds per request (default 600)"),
)


class SynthFormScreen(ModalScreen[dict | None]):
    """Dismisses with the filled fields (blank ones left out), or None."""

    DEFAULT_CSS = """
    SynthFormScreen { align: center middle; }
    SynthFormScreen > Vertical { width: 110; max-width: 100%; height: auto; max-height: 100%; border: thick $accent; background: $surface; padding: 0 1; }
    SynthFormScreen VerticalScroll { height: auto; max-height: 1fr; }
    SynthFormScreen .field { height: 1; }
    SynthFormScreen .field Label { width: 16; color: $text-muted; }
    SynthFormScreen .field Input { width: 1fr; }
    SynthFormScreen #synth-form-buttons { height: 3; align-horizontal: right; }
    """
    BINDINGS = [
        Binding("ctrl+s,f2", "start", "Start", id="synthform.start", tooltip="Start the synthesis as a detached job"),
        Binding("ctrl+g,f10", "cancel", "Cancel", id="synthform.cancel", tooltip="Close without starting"),
    ]

    def __init__(self, defaults: dict[str, str]) -> None:
        super().__init__()
        self.defaults = defaults

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Synthesize PoT items with a teacher model (kept only when the executed answer is right)",
                        classes="pane-title")
            with VerticalScroll():
                for name, label, hint in FIELDS:
                    with Horizontal(classes="field"):
                        yield Label(label)
                        yield Input(value=self.defaults.get(name, ""), placeholder=hint, id=f"synth-{name}",
                                    compact=True)
            with Horizontal(id="synth-form-buttons"):
                yield Button("Start [ctrl+s]", id="synth-form-go", variant="success")
                yield Button("Cancel [ctrl+g]", id="synth-form-cancel")

    def values(self) -> dict[str, str]:
        """The non-blank fields."""
        out = {}
        for name, _, _ in FIELDS:
            value = self.query_one(f"#synth-{name}", Input).value.strip()
            if value:
                out[name] = value
        return out

    def action_start(self) -> None:
        values = self.values()
        missing = [k for k in ("base_url", "model", "out") if k not in values]
        if bool(values.get("pairs")) == bool(values.get("topics")):
            missing.append("pairs or topics (one of them)")
        if missing:
            self.notify("needed: " + ", ".join(missing), severity="error")
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#synth-form-go")
    def _go(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#synth-form-cancel")
    def _cancel(self) -> None:
        self.action_cancel()
