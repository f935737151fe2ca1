"""The Eval form holds every `mathbench eval` option, builds the exact command, and remembers its values."""

from __future__ import annotations

import json

from mathbench.core.jobs.commands import eval_command
from mathbench.core.workspace import open_workspace
from mathbench.tui.app import MathbenchApp
from mathbench.tui.cli import build_parser
from mathbench.tui.widgets.eval_form import FIELDS, NOT_IN_FORM, REMEMBERED, EvalForm
from tests.support.tui_runs import wait_until

VALUES = {
    "benchmark": "benchmarks/sample.jsonl", "endpoints": "http://127.0.0.1:9/v1 http://127.0.0.1:10/v1",
    "model": "qwen-pot", "concurrency": "8", "limit": "20", "max_rounds": "4", "max_tokens": "1024",
    "temperature": "0.7", "top_p": "0.95", "seed": "3", "samples": "4", "shuffle_seed": "11", "levels": "1, 2",
    "subjects": "Algebra,Number Theory", "api_key_env": "MY_EVAL_KEY", "timeout": "120", "max_retries": "2",
    "code_timeout": "5", "down_wait": "30", "retry_after_max": "20", "max_reply_mb": "2", "name": "full",
}


def _eval_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return parser, sub.choices["eval"]


def test_every_eval_option_has_a_field():
    _, eval_parser = _eval_parser()
    options = {a.dest for a in eval_parser._actions} - set(NOT_IN_FORM)
    fields = {f.name for f in FIELDS} | {"prompt", "stream"}
    # The form's names: "endpoints" is --base-url (several), "name" is the run folder.
    fields = (fields - {"endpoints", "name"}) | {"base_urls"}
    assert options == fields


async def test_the_form_builds_the_command_the_cli_would_parse_and_remembers_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_EVAL_KEY", "sk-not-to-be-kept")
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws, start="eval")
    async with app.run_test(size=(160, 48)) as pilot:
        form = app.screen.query_one(EvalForm)
        await wait_until(pilot, lambda: form.text("benchmark"))
        for name, value in VALUES.items():
            form.query_one(f"#eval-{name.replace('_', '-')}").value = value
        form.query_one("#eval-stream").value = True
        argv = eval_command(ws.root, ws.runs_dir / "full", **form.options())
        parser, _ = _eval_parser()
        args = parser.parse_args(argv[3:])  # after "python -m mathbench.tui"
        assert args.base_urls == ["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"]
        assert (args.model, args.concurrency, args.limit, args.max_rounds, args.max_tokens) == ("qwen-pot", 8, 20, 4, 1024)
        assert (args.temperature, args.top_p, args.seed, args.samples, args.shuffle_seed) == (0.7, 0.95, 3, 4, 11)
        assert (args.levels, args.subjects, args.api_key_env) == ("1,2", "Algebra,Number Theory", "MY_EVAL_KEY")
        assert (args.timeout, args.max_retries, args.code_timeout, args.down_wait) == (120.0, 2, 5.0, 30.0)
        assert (args.retry_after_max, args.max_reply_mb, args.stream, args.prompt) == (20.0, 2.0, True, "zh")
        assert args.api_key is None and "sk-not-to-be-kept" not in " ".join(argv)
        app.screen.set_focus(None)
        await pilot.press("ctrl+s")  # no server answers: the job fails, the values are kept anyway
        await wait_until(pilot, lambda: (ws.state_dir / f"{REMEMBERED}.json").is_file())
    kept = (ws.state_dir / f"{REMEMBERED}.json").read_text()
    assert "MY_EVAL_KEY" in kept and "sk-not-to-be-kept" not in kept
    assert json.loads(kept)["model"] == "qwen-pot"

    app = MathbenchApp(ws, start="eval")
    async with app.run_test(size=(160, 48)) as pilot:
        form = app.screen.query_one(EvalForm)
        await wait_until(pilot, lambda: form.text("model") == "qwen-pot")
        for name in ("temperature", "samples", "subjects", "api_key_env", "down_wait"):
            assert form.text(name) == VALUES[name].replace("1, 2", "1,2")
        assert form.text("name") != "full"  # a new run gets a new name
        assert form.query_one("#eval-stream").value is True
