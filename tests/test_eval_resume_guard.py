"""Resume never mixes runs: no manifest, no resume; a changed benchmark is refused by name; progress counts problems."""

from __future__ import annotations

import json

import pytest

from mathbench.core.evaluation import RunDir
from mathbench.core.evaluation.listing import count_done, list_runs
from mathbench.core.evaluation.runconfig import EvalConfig, EvalError
from mathbench.core.evaluation.runner import run_eval
from mathbench.core.jobs.progress import job_progress
from mathbench.core.jobs.registry import Job
from tests.support.evalkit import gsm8k, server_for, write_jsonl


def _bench(path, problems, *, change: int | None = None):
    rows = [{"id": p.id, "question": p.question, "answer": p.gold} for p in problems]
    if change is not None:
        rows[change] = dict(rows[change], answer=rows[change]["answer"] + "0")
    return write_jsonl(path, rows)


def _config(srv, bench, run_dir) -> EvalConfig:
    return EvalConfig(benchmark=str(bench), base_urls=[srv.base_url], model="demo-pot", run_dir=run_dir,
                      concurrency=4)


async def test_results_without_a_manifest_are_refused(tmp_path):
    problems = gsm8k(3)
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.results_path.write_text(json.dumps({"id": problems[0].id, "verdict": "correct"}) + "\n")
    with server_for(problems) as srv:
        with pytest.raises(EvalError, match="no manifest.json"):
            await run_eval(_config(srv, _bench(tmp_path / "b.jsonl", problems), run.path))
        assert srv.chat_requests == []
    assert len(run.results_path.read_text().splitlines()) == 1  # nothing appended to the foreign results


async def test_a_changed_benchmark_is_refused_naming_the_first_changed_problem(tmp_path):
    problems = gsm8k(6)
    bench = _bench(tmp_path / "b.jsonl", problems)
    run_dir = tmp_path / "run"
    with server_for(problems) as srv:
        await run_eval(_config(srv, bench, run_dir))
        manifest = RunDir(run_dir).manifest
        assert len(manifest["benchmark_hash"]) == 64 and len(manifest["problem_hashes"]) == 6
        _bench(bench, problems, change=4)  # someone edits one gold answer in place
        before = run_dir.joinpath("results.jsonl").read_bytes()
        with pytest.raises(EvalError, match=f"benchmark changed.*{problems[4].id}"):
            await run_eval(_config(srv, bench, run_dir))
        assert run_dir.joinpath("results.jsonl").read_bytes() == before
        _bench(bench, problems[:5])  # or drops a problem
        with pytest.raises(EvalError, match=f"{problems[5].id} is no longer in it"):
            await run_eval(_config(srv, bench, run_dir))
        _bench(bench, problems)  # put back as it was, the run resumes (nothing left to do)
        again = await run_eval(_config(srv, bench, run_dir))
    assert again.complete and again.new_items == 0


async def test_progress_counts_distinct_problems_after_a_rerun(tmp_path):
    problems = gsm8k(4)
    run_dir = tmp_path / "ws" / "runs" / "r"
    bench = _bench(tmp_path / "b.jsonl", problems)
    with server_for(problems, faults=lambda i, body: "500" if problems[1].question in str(body) else None) as srv:
        cfg = _config(srv, bench, run_dir)
        cfg.max_retries, cfg.backoff_base = 0, 0.01
        first = await run_eval(cfg)
    assert first.errors == 1 and not first.complete
    with server_for(problems) as srv:
        await run_eval(_config(srv, bench, run_dir))
    lines = run_dir.joinpath("results.jsonl").read_text().splitlines()
    assert len(lines) == 5  # the errored problem has two records
    assert count_done(run_dir) == (4, 4)
    job = Job(id="j1", kind="eval", command=["x"], dir=tmp_path / "job", meta={"run_dir": str(run_dir)})
    progress = job_progress(job)
    assert (progress.done, progress.total, progress.text) == (4, 4, "4/4")
    [info] = list_runs(tmp_path / "ws")
    assert (info.total, info.errors, info.status) == (4, 0, "complete")
