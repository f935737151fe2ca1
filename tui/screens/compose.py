"""Compose (scheme 2): a person types a problem, a model solves it with PoT, the person edits and saves an item."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from mathbench.tui.widgets.common import WorkbenchScreen, one_line

DEFAULT_DATASET = "composed.json"


@dataclass
class ComposeParts:
    """The four editable parts of a solved problem."""

    thought: str = ""
    code: str = ""
    output: str = ""
    final: str = ""


class ProblemSolved(Message):
    """The model finished a PoT solve of the typed problem."""

    def __init__(self, parts: ComposeParts, trace: object, endpoint: str, model: str) -> None:
        super().__init__()
        self.parts = parts
        self.trace = trace
        self.endpoint = endpoint
        self.model = model


class SolveFailed(Message):
    """The solve could not complete: no server, bad reply, or an error."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class CodeRan(Message):
    """The (possibly edited) code ran in the sandbox."""

    def __init__(self, output: str, status: str, duration: float) -> None:
        super().__init__()
        self.output = output
        self.status = status
        self.duration = duration


class EndpointFound(Message):
    """A ready server to default to was found."""

    def __init__(self, url: str, model: str | None) -> None:
        super().__init__()
        self.url = url
        self.model = model


class ItemSaved(Message):
    """An item was written to a dataset file."""

    def __init__(self, path: Path, count: int) -> None:
        super().__init__()
        self.path = path
        self.count = count


class ComposeScreen(WorkbenchScreen):
    """Type a problem, let the model solve it with code, edit the parts, save it as an SFT item."""

    TITLE = "Compose"
    CSS_PATH = "../styles/compose.tcss"
    AUTO_FOCUS = "#compose-solve-btn"
    BINDINGS = [
        Binding("ctrl+r,f5", "solve", "Solve", id="compose.solve", tooltip="Ask the model to solve the problem with code"),
        Binding("ctrl+t,f6", "run_code", "Run code", id="compose.run", tooltip="Run the code box in the sandbox, refresh the output"),
        Binding("ctrl+s,f2", "save", "Save item", id="compose.save", tooltip="Append the item to the dataset file"),
        Binding("ctrl+n,f7", "clear", "New", id="compose.new", tooltip="Clear every box for a new problem"),
        Binding("p", "focus_problem", "Problem", id="compose.problem", tooltip="Type in the problem box"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="compose-body"):
            with Horizontal(id="compose-endpoint", classes="form-row"):
                yield Input(placeholder="base URL, e.g. http://127.0.0.1:8000/v1", id="compose-url")
                yield Input(placeholder="model (blank: ask the server)", id="compose-model")
                yield Select([("zh prompt", "zh"), ("en prompt", "en")], value="zh", allow_blank=False, id="compose-prompt")
            yield Label("Problem", classes="pane-title")
            yield TextArea(id="compose-problem", soft_wrap=True)
            with Grid(id="compose-parts"):
                with Vertical(classes="part"):
                    yield Label("Thought", classes="pane-title")
                    yield TextArea(id="compose-thought", soft_wrap=True)
                with Vertical(classes="part"):
                    yield Label("Code", classes="pane-title")
                    yield TextArea.code_editor(id="compose-code", language="python", soft_wrap=True)
                with Vertical(classes="part"):
                    yield Label("Output", classes="pane-title")
                    yield TextArea(id="compose-output", soft_wrap=True)
                with Vertical(classes="part"):
                    yield Label("Final answer", classes="pane-title")
                    yield TextArea(id="compose-final", soft_wrap=True)
            with Horizontal(id="compose-save-row", classes="form-row"):
                yield Input(value=DEFAULT_DATASET, placeholder="dataset file in the workspace's datasets/", id="compose-dataset")
                yield Button("Solve", id="compose-solve-btn", variant="primary")
                yield Button("Save", id="compose-save-btn", variant="success")
            yield Static("p: type a problem, then ctrl+r to solve.", id="compose-status")

    def on_mount(self) -> None:
        self.find_endpoint()

    def on_screen_resume(self) -> None:
        if not self.query_one("#compose-url", Input).value:
            self.find_endpoint()

    @work(thread=True, exclusive=True, group="compose-endpoint", exit_on_error=False)
    def find_endpoint(self) -> None:
        """The server chosen on the Serve screen, else the newest ready serve job of the workspace."""
        url = getattr(self.app, "endpoint_url", None)
        model = getattr(self.app, "endpoint_model", None)
        if not url:
            from mathbench.core.jobs.serving import ready_endpoints

            endpoints = ready_endpoints(self.workspace)
            if not endpoints:
                return
            url, model = endpoints[0].base_url, (endpoints[0].models or [None])[0]
        self.post_message(EndpointFound(url, model))

    def on_endpoint_found(self, message: "EndpointFound") -> None:
        url_input = self.query_one("#compose-url", Input)
        if not url_input.value:
            url_input.value = message.url
            if message.model and not self.query_one("#compose-model", Input).value:
                self.query_one("#compose-model", Input).value = message.model

    def _status(self, text: str) -> None:
        self.query_one("#compose-status", Static).update(text)

    def _text(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", TextArea).text

    def _set_parts(self, parts: ComposeParts) -> None:
        self.query_one("#compose-thought", TextArea).load_text(parts.thought)
        self.query_one("#compose-code", TextArea).load_text(parts.code)
        self.query_one("#compose-output", TextArea).load_text(parts.output)
        self.query_one("#compose-final", TextArea).load_text(parts.final)

    @property
    def parts(self) -> ComposeParts:
        """What the boxes hold now, edits included."""
        return ComposeParts(self._text("compose-thought"), self._text("compose-code"),
                            self._text("compose-output"), self._text("compose-final"))

    # actions ------------------------------------------------------------------------------
    def action_solve(self) -> None:
        problem = self._text("compose-problem").strip()
        url = self.query_one("#compose-url", Input).value.strip()
        if not problem:
            self._status("[yellow]Type a problem first.[/]")
            return
        if not url:
            self._status("[yellow]No endpoint: type a base URL, or start/attach a server on the Serve screen.[/]")
            return
        model = self.query_one("#compose-model", Input).value.strip()
        prompt = str(self.query_one("#compose-prompt", Select).value)
        self._status(f"Solving with {model or 'the served model'} at {url} …")
        self.solve_problem(problem, url, model, prompt)

    def action_run_code(self) -> None:
        code = self._text("compose-code")
        if not code.strip():
            self._status("[yellow]The code box is empty.[/]")
            return
        self._status("Running the code …")
        self.run_code(code)

    def action_save(self) -> None:
        problem = self._text("compose-problem").strip()
        if not problem:
            self._status("[yellow]Nothing to save: the problem is empty.[/]")
            return
        name = self.query_one("#compose-dataset", Input).value.strip() or DEFAULT_DATASET
        path = Path(name)
        if not path.is_absolute():
            path = self.workspace.datasets_dir / path
        prompt = str(self.query_one("#compose-prompt", Select).value)
        self.save_item(problem, self.parts, prompt, path)

    def action_clear(self) -> None:
        self.query_one("#compose-problem", TextArea).load_text("")
        self._set_parts(ComposeParts())
        self._status("Cleared.")
        self.query_one("#compose-problem", TextArea).focus()

    def action_focus_problem(self) -> None:
        self.query_one("#compose-problem", TextArea).focus()

    @on(Button.Pressed, "#compose-solve-btn")
    def _solve_pressed(self) -> None:
        self.action_solve()

    @on(Button.Pressed, "#compose-save-btn")
    def _save_pressed(self) -> None:
        self.action_save()

    # workers ------------------------------------------------------------------------------
    @work(exclusive=True, group="compose-solve", exit_on_error=False)
    async def solve_problem(self, problem: str, url: str, model: str, prompt: str) -> None:
        from mathbench.core.evaluation.client import ChatClient
        from mathbench.core.evaluation.pot import load_prompt, solve
        from mathbench.core.sandbox.pool import run_python_async

        try:
            template = load_prompt(prompt)
            from mathbench.core.jobs.serving import workspace_api_key

            key = workspace_api_key(self.workspace, create=False)
            async with ChatClient([url], model or "?", api_key=key, concurrency=1, timeout=300.0, max_retries=1) as client:
                if not model:
                    models = await client.list_models()
                    if not models:
                        raise RuntimeError(f"{url} serves no model")
                    client.model = model = models[0]
                trace = await solve(problem, client.chat, run_python_async, template=template, max_rounds=3)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the screen stays
            self.post_message(SolveFailed(f"{type(exc).__name__}: {exc}"))
            return
        if trace.error and not trace.final_text:
            self.post_message(SolveFailed(trace.error))
            return
        self.post_message(ProblemSolved(_parts_from_trace(trace), trace, url, model))

    @work(exclusive=True, group="compose-run", exit_on_error=False)
    async def run_code(self, code: str) -> None:
        from mathbench.core.evaluation.pot import error_tail
        from mathbench.core.sandbox.pool import run_python_async

        result = await run_python_async(code, 10.0)
        output = (result.stdout or "").rstrip("\n")
        if result.status != "ok":
            tail = error_tail(result) or result.status
            output = f"{output}\n{tail}".strip()
        self.post_message(CodeRan(output, result.status, result.duration))

    @work(exclusive=True, group="compose-save", thread=True, exit_on_error=False)
    def save_item(self, problem: str, parts: ComposeParts, prompt: str, path: Path) -> None:
        from mathbench.core.datasets import Dataset, DatasetError, make_item
        from mathbench.core.evaluation.pot import PotTrace, load_prompt, observation_message
        from mathbench.core.datasets.synth import to_sharegpt

        template = load_prompt(prompt)
        messages = template.initial_messages(problem)
        skip = len(messages) - 1  # the system turn stays out of the item, as in the seed's data
        if parts.code.strip():
            messages.append({"role": "assistant", "content": f"{parts.thought.rstrip()}\n```python\n{parts.code.strip()}\n```"})
            messages.append(observation_message({"stdout": parts.output, "status": "ok"}, template))
        messages.append({"role": "assistant", "content": parts.final})
        turns = [(t["from"], t["value"]) for t in to_sharegpt(PotTrace(messages=messages), skip=skip)]
        try:
            dataset = Dataset.load(path) if path.exists() else Dataset.from_items([], "sharegpt")
            dataset.add_item(make_item(turns, dataset.fmt))
            path.parent.mkdir(parents=True, exist_ok=True)
            dataset.save(path)
        except (DatasetError, OSError, ValueError) as exc:
            self.post_message(SolveFailed(f"not saved: {exc}"))
            return
        self.post_message(ItemSaved(path, len(dataset)))

    # handlers -----------------------------------------------------------------------------
    def on_problem_solved(self, message: ProblemSolved) -> None:
        self._set_parts(message.parts)
        trace = message.trace
        runs = len(getattr(trace, "executions", []) or [])
        self._status(f"[green]Solved[/] by {message.model} in {getattr(trace, 'latency', 0.0):.1f}s, "
                     f"{runs} code run(s). Edit any box, then ctrl+s to save.")

    def on_solve_failed(self, message: SolveFailed) -> None:
        self._status(f"[red]Solve failed:[/] {one_line(message.error, 200)}")

    def on_code_ran(self, message: CodeRan) -> None:
        self.query_one("#compose-output", TextArea).load_text(message.output)
        colour = "green" if message.status == "ok" else "red"
        self._status(f"Code ran: [{colour}]{message.status}[/] in {message.duration:.2f}s.")

    def on_item_saved(self, message: ItemSaved) -> None:
        self._status(f"[green]Saved[/] to {message.path} ({message.count} items).")
        self.notify(f"Item saved to {message.path.name}", title="Compose")

    def on_worker_state_changed(self, event) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR:
            self._status(f"[red]{event.worker.name} failed:[/] {one_line(event.worker.error, 200)}")


def _parts_from_trace(trace) -> ComposeParts:
    """The thought (text before the first code block), the last code run, its output and the final reply."""
    from mathbench.core.evaluation.pot import extract_code, error_tail

    assistant = [m["content"] for m in trace.messages if m.get("role") == "assistant"]
    first = assistant[0] if assistant else ""
    code = extract_code(first) or ""
    thought = first.split("```", 1)[0].rstrip() if code else ""
    output = ""
    if trace.executions:
        last = trace.executions[-1]
        code = last.get("code") or code
        output = (last.get("stdout") or "").rstrip("\n")
        if last.get("status") != "ok":
            output = f"{output}\n{error_tail(last)}".strip()
    final = trace.final_text if trace.executions else (trace.final_text or first)
    return ComposeParts(thought, code, output, final)
