"""The Eval screen's form: every `mathbench eval` option, the last values remembered per workspace."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

REMEMBERED = "eval_form"
"""Name under which the workspace keeps the form's last values."""


@dataclass(frozen=True)
class Field:
    """One input of the form: the `mathbench eval` option it sets, its label and the kind of value."""

    name: str
    label: str
    hint: str = ""
    kind: str = "text"
    """text, integer, number, list (space or comma separated)."""


FIELDS = (
    Field("benchmark", "benchmark", "gsm8k · math · FILE · hf:NAME"),
    Field("fields", "file keys", "own file: question=Problem,answer=correct,choices=options"),
    Field("endpoints", "endpoint(s)", "base URLs, space-separated"),
    Field("model", "model", "served model name"),
    Field("concurrency", "concurrency", "default 16", "integer"),
    Field("limit", "limit", "blank: all", "integer"),
    Field("max_rounds", "max rounds", "code blocks run per problem", "integer"),
    Field("max_tokens", "max tokens", "default 2048", "integer"),
    Field("temperature", "temperature", "default 0", "number"),
    Field("top_p", "top-p", "default 1", "number"),
    Field("seed", "seed", "default 0", "integer"),
    Field("samples", "samples", "completions per problem, for pass@k (default 1)", "integer"),
    Field("shuffle_seed", "shuffle seed", "blank: in order", "integer"),
    Field("levels", "levels", "MATH levels, e.g. 1,2,3"),
    Field("subjects", "subjects", "e.g. Algebra,Geometry"),
    Field("api_key_env", "key variable", "NAME of the variable holding the key"),
    Field("timeout", "timeout", "seconds per request, default 600", "number"),
    Field("max_retries", "retries", "per request, default 5", "integer"),
    Field("code_timeout", "code timeout", "seconds per code block, default 10", "number"),
    Field("down_wait", "outage wait", "seconds to wait for a server to come back (60)", "number"),
    Field("retry_after_max", "retry-after max", "longest Retry-After honoured, s (60)", "number"),
    Field("max_reply_mb", "max reply MB", "a larger reply is an item error (1)", "number"),
    Field("name", "run name", "folder under runs/"),
)
NOT_REMEMBERED = ("name",)
NOT_IN_FORM = ("help", "run_dir", "api_key", "retry_errors", "json")
"""`mathbench eval` options the form leaves out: the run name stands for --run-dir, a key is never typed or
kept (its variable's name is), e re-runs errors, a job always reports JSON."""


def new_run_name() -> str:
    return time.strftime("eval-%Y%m%d-%H%M%S")


class EvalForm(VerticalScroll):
    """Fields for a new detached eval; `options()` gives what `eval_command` takes."""

    def compose(self) -> ComposeResult:
        yield Static("New eval (detached job)", classes="pane-title")
        for field in FIELDS:
            with Horizontal(classes="eval-row"):
                yield Label(field.label)
                input_type = field.kind if field.kind in ("integer", "number") else "text"
                yield Input(placeholder=field.hint, type=input_type, id=f"eval-{field.name.replace('_', '-')}",
                            compact=True)
            if field.name == "subjects":
                with Horizontal(classes="eval-row"):
                    yield Label("prompt")
                    yield Select([("zh", "zh"), ("en", "en")], value="zh", allow_blank=False, id="eval-prompt",
                                 compact=True)
        yield Checkbox("stream replies (SSE)", id="eval-stream", compact=True)
        yield Button("Start  (ctrl+s)", id="eval-start", variant="primary")

    def _input(self, name: str) -> Input:
        return self.query_one(f"#eval-{name.replace('_', '-')}", Input)

    def fill(self, benchmark: str, prompts: list[str], remembered: dict[str, Any]) -> None:
        """Defaults first, then the workspace's remembered values over them."""
        values = {"benchmark": benchmark, "endpoints": "http://127.0.0.1:8000/v1", "concurrency": "16"}
        values.update({k: str(v) for k, v in remembered.items() if k in {f.name for f in FIELDS} and v is not None})
        values["name"] = new_run_name()
        for field in FIELDS:
            if field.name in values:
                self._input(field.name).value = values[field.name]
        select = self.query_one("#eval-prompt", Select)
        prompts = prompts or ["zh", "en"]
        select.set_options([(p, p) for p in prompts])
        wanted = remembered.get("prompt")
        select.value = wanted if wanted in prompts else ("zh" if "zh" in prompts else prompts[0])
        self.query_one("#eval-stream", Checkbox).value = bool(remembered.get("stream"))

    def text(self, name: str) -> str:
        return self._input(name).value.strip()

    def values(self) -> dict[str, Any]:
        """Every field as typed (strings), plus the prompt and stream choices: what the workspace remembers."""
        values: dict[str, Any] = {field.name: self.text(field.name) for field in FIELDS}
        prompt = self.query_one("#eval-prompt", Select).value
        values["prompt"] = prompt if isinstance(prompt, str) else None
        values["stream"] = self.query_one("#eval-stream", Checkbox).value
        return values

    def missing(self) -> list[str]:
        """The fields a new eval cannot start without."""
        return [label for name, label in (("benchmark", "benchmark"), ("endpoints", "endpoint"), ("model", "model"))
                if not self.text(name)]

    def options(self) -> dict[str, Any]:
        """The `mathbench eval` options of the filled fields (blank ones leave the command's default)."""
        values = self.values()
        options: dict[str, Any] = {}
        for field in FIELDS:
            raw = values[field.name]
            if field.name == "name" or not raw:
                continue
            if field.name == "endpoints":
                options["base_url"] = raw.replace(",", " ").split()
            elif field.kind == "integer":
                options[field.name] = int(raw)
            elif field.kind == "number":
                options[field.name] = float(raw)
            elif field.name in ("levels", "subjects"):
                options[field.name] = ",".join(part.strip() for part in raw.replace(";", ",").split(",") if part.strip())
            else:
                options[field.name] = raw
        options["prompt"] = values["prompt"]
        options["stream"] = values["stream"]
        return options

    def remembered_values(self) -> dict[str, Any]:
        """What the workspace keeps for next time (never the run name; the key variable's name, never a key)."""
        return {k: v for k, v in self.values().items() if k not in NOT_REMEMBERED}

    def next_run(self) -> None:
        """A fresh run name after a start."""
        self._input("name").value = new_run_name()

    def focus_first_empty(self) -> None:
        for name in ("benchmark", "endpoints", "model"):
            if not self.text(name):
                self._input(name).focus()
                return
        self._input("model").focus()
