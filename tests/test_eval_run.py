"""run_eval end to end: real demo server, real sandbox, real grader, real run directory."""

from __future__ import annotations

import asyncio
import json

import pytest

from mathbench.core.evaluation.runner import EvalConfig, EvalError, ItemFailed, ItemFinished, RunFinished, RunStarted, run_eval
from mathbench.core.evaluation.rundir import RunDir
from mathbench.core.sandbox.pool import ExecResult
from tests.support.evalkit import gsm8k, server_for


def _config(srv, tmp_path, problems, **kw) -> EvalConfig:
    kw.setdefault("concurrency", 8)
    return EvalConfig(benchmark="gsm8k", limit=len(problems), base_urls=[srv.base_url], model="demo-pot",
                      run_dir=tmp_path / "run", backoff_base=0.01, **kw)


async def test_eval_runs_the_code_and_scores_every_problem(tmp_path):
    problems = gsm8k(24)
    events = []
    with server_for(problems, latency=0.01) as srv:
        summary = await run_eval(_config(srv, tmp_path, problems), events.append)
    assert summary.complete and summary.total == 24 and summary.correct == 24 and summary.errors == 0
    records = RunDir(tmp_path / "run").load_results()
    assert sorted(r["id"] for r in records) == sorted(p.id for p in problems)
    rec = records[0]
    assert rec["executions"][0]["status"] == "ok" and rec["rounds"] == 1
    assert rec["messages"][-2]["role"] == "user" and "```" in rec["messages"][-2]["content"]
    assert rec["verdict"] == "correct" and rec["pred_answer"] == rec["gold_answer"]
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert sum(isinstance(e, ItemFinished) for e in events) == 24
    manifest = RunDir(tmp_path / "run").manifest
    assert manifest["status"] == "complete" and manifest["sampling"]["temperature"] == 0.0
    assert manifest["prompt_name"] == "zh" and manifest["model"] == "demo-pot"


async def test_a_client_that_does_not_run_the_code_scores_nothing(tmp_path):
    problems = gsm8k(6)

    async def fake_run(code: str, timeout: float) -> ExecResult:
        return ExecResult(stdout="42\n", stderr="", status="ok", duration=0.0, returncode=0, truncated=False)

    with server_for(problems) as srv:
        summary = await run_eval(_config(srv, tmp_path, problems, run_code=fake_run))
    assert summary.correct == sum(p.gold.endswith("#### 42") for p in problems)
    assert summary.wrong >= 5


async def test_errored_code_is_fed_back_and_fixed_with_more_rounds(tmp_path):
    problems = gsm8k(5)
    with server_for(problems, buggy_rate=1.0) as srv:
        one = await run_eval(_config(srv, tmp_path / "a", problems, max_rounds=1))
        two = await run_eval(_config(srv, tmp_path / "b", problems, max_rounds=2))
    assert one.correct == 0 and two.correct == 5
    rec = RunDir(tmp_path / "b" / "run").load_results()[0]
    assert [e["status"] for e in rec["executions"]] == ["error", "ok"]
    assert "ZeroDivisionError" in rec["messages"][3]["content"] and rec["rounds"] == 2


async def test_faults_are_retried_and_a_hopeless_item_is_recorded_as_error(tmp_path):
    problems = gsm8k(12)
    poison = problems[3].question

    def faults(index, body):
        if any(poison in str(m.get("content")) for m in body["messages"]):
            return "500"
        return None

    failed = []
    with server_for(problems, latency=0.01, faults=faults, fail_rate=0.15,
                    fail_kinds=("500", "reset", "garbage", "429")) as srv:
        cfg = _config(srv, tmp_path, problems, max_retries=8)
        summary = await run_eval(cfg, lambda e: failed.append(e) if isinstance(e, ItemFailed) else None)
    # the error is counted apart: accuracy is over the 11 graded items, and the run is incomplete
    assert not summary.complete and summary.status == "incomplete"
    assert summary.errors == 1 and summary.graded == 11 and summary.correct == 11 and summary.retries > 0
    assert [e.record["id"] for e in failed] == [problems[3].id]
    from mathbench.core.evaluation.report import summarize

    assert summary.accuracy == summarize(tmp_path / "run")["accuracy"] == 1.0  # live figure = report's
    assert RunDir(tmp_path / "run").manifest["status"] == "incomplete"
    records = {r["id"]: r for r in RunDir(tmp_path / "run").load_results()}
    assert "HTTP 500" in records[problems[3].id]["error"] and records[problems[3].id]["verdict"] is None

    # Resuming re-runs only that item, against a healthy server.
    with server_for(problems) as healthy:
        again = await run_eval(_config(healthy, tmp_path, problems))
    assert again.new_items == 1 and again.errors == 0 and again.correct == 12 and again.complete
    assert len(healthy.chat_requests) == 2  # one problem, two turns
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 13 and len(RunDir(tmp_path / "run").load_results()) == 12


async def test_resume_skips_done_items_and_refuses_changed_settings(tmp_path):
    problems = gsm8k(10)
    with server_for(problems) as srv:
        first = await run_eval(_config(srv, tmp_path, problems))
        n_requests = len(srv.chat_requests)
        second = await run_eval(_config(srv, tmp_path, problems))
        assert len(srv.chat_requests) == n_requests and second.new_items == 0 and second.correct == 10
        cfg = _config(srv, tmp_path, problems, max_rounds=3)
        with pytest.raises(EvalError, match="max_rounds"):
            await run_eval(cfg)
    assert first.complete and len(RunDir(tmp_path / "run").manifest["sessions"]) == 2


async def test_cancelling_keeps_what_finished_and_resume_completes(tmp_path):
    problems = gsm8k(30)
    with server_for(problems, latency=0.05) as srv:
        cfg = _config(srv, tmp_path, problems, concurrency=4)
        seen = []
        task = asyncio.create_task(run_eval(cfg, seen.append))
        while sum(isinstance(e, ItemFinished) for e in seen) < 5:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        run = RunDir(tmp_path / "run")
        partial = run.load_results()
        assert 5 <= len(partial) < 30 and not run.is_running()
        assert run.manifest["status"] == "incomplete"
        summary = await run_eval(_config(srv, tmp_path, problems, concurrency=4))
    ids = [json.loads(l)["id"] for l in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 30 and summary.correct == 30


async def test_streaming_eval_and_two_endpoints(tmp_path):
    problems = gsm8k(16)
    with server_for(problems, latency=0.01) as a, server_for(problems, latency=0.01) as b:
        cfg = _config(a, tmp_path, problems, stream=True)
        cfg.base_urls = [a.base_url, b.base_url]
        summary = await run_eval(cfg)
    assert summary.correct == 16
    assert a.chat_requests and b.chat_requests and all(r.stream for r in a.chat_requests)


async def test_unreachable_endpoint_is_a_clear_error(tmp_path):
    from tests.support.evalkit import closed_port_url

    problems = gsm8k(2)
    cfg = EvalConfig(benchmark="gsm8k", limit=2, base_urls=[closed_port_url()], model="m",
                     run_dir=tmp_path / "run", max_retries=0)
    with pytest.raises(EvalError, match="no endpoint answered"):
        await run_eval(cfg)
    assert problems


async def test_a_model_name_the_server_does_not_serve_fails_fast(tmp_path):
    problems = gsm8k(2)
    with server_for(problems, model="served-name") as srv:
        with pytest.raises(EvalError, match="not served.*served-name"):
            await run_eval(_config(srv, tmp_path, problems))
        assert srv.chat_requests == []
