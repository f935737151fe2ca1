"""The whole loop on the real LLaMA-Factory 0.9.5 and vLLM 0.32 (CPU build), through mathbench's own commands.

Steps run in order and build on each other (the numbers are issue 11's): train a LoRA and watch it,
merge and serve it, evaluate it, full SFT so the model writes code, serve a base model with a LoRA
adapter, stop training from the screen and a server with `jobs stop`. Assertions are on state,
never on model quality.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.realstack.conftest import wait_until
from tests.support.tui_more_text import poll_until_done, shown_text

pytestmark = [pytest.mark.realstack, pytest.mark.timeout(1800)]

# bf16 is emulated (slow) on CPUs without AVX512-BF16/AMX: fp32 here.
FAST_TRAIN = ["bf16=false", "logging_steps=1", "gradient_accumulation_steps=1", "cutoff=1024", "preprocessing_num_workers=1",
              "dataloader_num_workers=0", "val_size=0", "eval_strategy=no"]  # `no` stays a word (STRING_KEYS)
SERVE_FLAGS = "--max-model-len 2048 --enforce-eager"


def _job(stack, job_id: str) -> dict:
    return stack.mb_json("jobs", "show", job_id, "--json")


def _running(stack, job_id: str) -> dict:
    """The job while it runs; fails the test at once, with its log tail, when it has ended badly."""
    job = _job(stack, job_id)
    if job["state"] == "failed":
        pytest.fail(f"job {job_id} failed (exit {job['exit_code']}): {job.get('error')}\n" + "\n".join(job["log_tail"]))
    return job


def _wait_end(stack, job_id: str, timeout: float, what: str) -> dict:
    wait_until(lambda: _running(stack, job_id)["state"] not in ("starting", "running"), timeout, what, interval=2)
    return _job(stack, job_id)


def _trainer_records(output_dir: Path) -> list[dict]:
    path = output_dir / "trainer_log.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line being written
    return out


def _get(url: str, key: str | None = None, timeout: float = 5) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.read()


def _api_key(stack) -> str:
    from mathbench.core.jobs.serving import workspace_api_key

    return workspace_api_key(stack.workspace)


def _serve(stack, model: str, name: str, *extra: str) -> dict:
    """`mathbench serve MODEL --wait` on a free port; returns the job as `jobs show --json` gives it."""
    from mathbench.core.jobs import free_port

    port = free_port()
    res = stack.mb("serve", model, "--port", str(port), "--served-model-name", name, "--wait", "--timeout", "900",
                   "--server-args", SERVE_FLAGS, *extra, timeout=1000)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "command: " in res.stderr and "vllm serve" in res.stderr  # the exact command, shown before launching
    assert "ready:" in res.stderr and name in res.stderr
    job_id = res.stdout.strip().splitlines()[-1]
    return _job(stack, job_id)


# ---------------------------------------------------------------- 1. LoRA training, watched


def test_1_lora_training_is_watched_as_it_runs(stack):
    res = stack.mb("data", "export", "datasets/pot_sample.json", "--to", "exports", "--name", "mathbench_pot", "--json",
                   check=True)
    assert json.loads(res.stdout)["exported"] > 20
    res = stack.mb("train", "lora_sft", f"model={stack.model}", "max_steps=20", "save_steps=10", *FAST_TRAIN, check=True)
    assert "use_cpu: true added" in res.stderr and "FORCE_TORCHRUN" not in res.stderr
    job_id = res.stdout.strip().splitlines()[-1]
    job = _job(stack, job_id)
    out = Path(job["output_dir"])
    stack.made["lora_job"], stack.made["lora_dir"] = job_id, out

    # Before the first step the job says it is loading the model.
    before = _trainer_records(out)
    text = _job(stack, job_id)["progress"]["text"]
    if not before and not _trainer_records(out):
        assert text == "loading the model"
    stack.made["saw_loading"] = not before
    # While it runs, progress, loss and ETA agree with trainer_log.jsonl: read in-process (the same
    # core call `jobs show` makes) so a fast machine's steps cannot outrun the comparison.
    from mathbench.core.jobs.progress import job_summary
    from mathbench.core.jobs.registry import get_job

    agreed: dict[int, str] = {}

    def progress_matches_log():
        before = _trainer_records(out)
        shown = job_summary(get_job(stack.workspace, job_id))
        after = _trainer_records(out)
        if shown["state"] not in ("starting", "running"):
            return True  # ended: judged below
        if not before or before != after or before[-1]["current_steps"] >= 20:
            return False
        last = before[-1]
        text = shown["progress"]["text"]
        assert shown["progress"]["done"] == last["current_steps"] and shown["progress"]["total"] == 20
        if "loss" in last:
            assert f"loss {last['loss']:.4g}" in text
        assert f"ETA {last['remaining_time']}" in text
        agreed[last["current_steps"]] = text
        return len(agreed) >= 2

    wait_until(progress_matches_log, 900, "the job's progress to agree with trainer_log.jsonl twice", interval=0.05)
    assert len(agreed) >= 2, f"the run ended with progress seen to agree at steps {sorted(agreed)} only"
    job = _wait_end(stack, job_id, 900, "the LoRA run to end")
    assert job["state"] == "succeeded" and job["exit_code"] == 0, job
    assert job["progress"]["text"].startswith("20/20 100%") and "ETA" not in job["progress"]["text"]
    assert (out / "adapter_model.safetensors").is_file() and (out / "checkpoint-20").is_dir()
    from mathbench.core.jobs.training import parse_console_metrics, training_status

    status = training_status(out)
    assert status.finished and status.progress.phase == "finished" and [c.step for c in status.checkpoints] == [10, 20]
    # The console's string-valued metric dicts (transformers 5) and running_log.txt, as they really are.
    log_text = Path(job["log"]).read_text(encoding="utf-8", errors="replace")
    console = [m for m in map(parse_console_metrics, log_text.replace("\r", "\n").splitlines()) if m and "grad_norm" in m]
    assert len(console) == 20 and all(isinstance(m["loss"], float) for m in console)
    running = [parse_console_metrics(x) for x in (out / "running_log.txt").read_text(encoding="utf-8").splitlines()]
    assert sum(1 for m in running if m and "loss" in m) == 20


# ---------------------------------------------------------------- 2. merge, serve, read the live server


def test_2_merge_then_serve_the_merged_model(stack):
    adapter = stack.made["lora_dir"]
    res = stack.mb("train", "merge_lora", f"model={stack.model}", f"adapter={adapter}", check=True)
    merge_id = res.stdout.strip().splitlines()[-1]
    merge = _wait_end(stack, merge_id, 900, "the merge to end")
    assert merge["state"] == "succeeded", merge
    merged = Path(merge["output_dir"])
    assert (merged / "model.safetensors").is_file() and (merged / "config.json").is_file()
    stack.made["merged"] = merged

    job = _serve(stack, str(merged), "tiny-merged")
    stack.made["merged_job"] = job
    from mathbench.core.jobs.serving import ServerLog, fetch_metrics

    log = ServerLog().feed_all(Path(job["log"]).read_text(encoding="utf-8", errors="replace").splitlines())
    s = log.summary()
    assert s["ready"] and s["errors"] == 0 and s["version"] == "0.32.0"
    assert s["engine_init_s"] > 0 and s["kv_cache_gib"] == 1.0 and s["kv_cache_tokens"] > 0
    assert s["max_concurrency"] > 0 and s["api_server"].endswith(f":{job['url'].rsplit(':', 1)[1][:-3]}")
    root = job["url"][:-3]
    assert _get(root + "/health")[0] == 200
    models = json.loads(_get(job["url"] + "/models", _api_key(stack))[1])
    assert [m["id"] for m in models["data"]] == ["tiny-merged"] and models["data"][0]["max_model_len"] == 2048
    metrics = fetch_metrics(job["url"])
    assert metrics is not None and metrics.kv_cache_tokens == s["kv_cache_tokens"]
    assert metrics.model_names == ("tiny-merged",) and metrics.running == 0


async def test_2b_serve_screen_reads_the_live_server(stack):
    from mathbench.tui.app import MathbenchApp

    job = stack.made["merged_job"]
    app = MathbenchApp(stack.workspace, start="serve")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        screen.attach_job(job["id"])
        deadline = time.monotonic() + 60
        while screen.view is None or screen.view.health != "ready" or not screen.view.models:
            assert time.monotonic() < deadline, "the Serve screen never saw the live server ready"
            await poll_until_done(screen.poll_server)
            await pilot.pause(0.3)
        stats = shown_text(screen.query_one("#serve-stats"))
        assert "tiny-merged" in stats and "running" in screen.view.job_state
        assert "ready" in stats and "yes" in stats and "KV cache tokens" in stats


# ---------------------------------------------------------------- 3. eval, plain and streamed, and report


def test_3_eval_plain_and_streamed_then_report(stack):
    url = stack.made["merged_job"]["url"]
    env = {"MATHBENCH_API_KEY": _api_key(stack)}
    for name, extra in (("plain", []), ("stream", ["--stream"])):
        run_dir = stack.ws_root / "runs" / f"rs-{name}"
        res = stack.mb("eval", "--benchmark", "benchmarks/sample.jsonl", "--limit", "20", "--base-url", url,
                       "--model", "tiny-merged", "--max-tokens", "200", "--run-dir", str(run_dir), "--json",
                       "--timeout", "300", *extra, env=env, timeout=1200)
        assert res.returncode == 0, res.stderr[-3000:]
        rep = stack.mb_json("report", str(run_dir), "--json")
        assert rep["total"] == 20 and rep["errors"] == 0, rep
        assert rep["correct"] + rep["wrong"] + rep["uncertain"] == 20
        lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
        recs = [json.loads(x) for x in lines]
        assert len({r["id"] for r in recs}) == 20 and all(r["messages"][-1]["role"] == "assistant" for r in recs)
        assert all((r.get("usage") or {}).get("completion_tokens", 0) > 0 for r in recs)


async def test_3b_jobs_stop_stops_the_server_cleanly(stack):
    """Step 6's second half, done here so an idle server does not share the 2 cores with the training after."""
    from mathbench.core.jobs.serving import ServerLog
    from mathbench.tui.app import MathbenchApp

    job = stack.made["merged_job"]
    res = stack.mb("jobs", "stop", job["id"], "--grace", "60", check=True)
    assert res.stdout.strip() == f"{job['id']} stopped (exit code 0)"
    after = _job(stack, job["id"])
    assert after["state"] == "stopped" and after["exit_code"] == 0
    log = ServerLog().feed_all(Path(job["log"]).read_text(encoding="utf-8", errors="replace").splitlines())
    assert log.shutdown and not log.engine_dead and log.error_count == 0  # errors before the shutdown began: none
    from mathbench.core.jobs import job_pids, get_job

    assert job_pids(get_job(stack.workspace, job["id"])) == []
    app = MathbenchApp(stack.workspace, start="serve")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        screen.attach_job(job["id"])
        deadline = time.monotonic() + 30
        while screen.view is None or screen.view.health is None:
            assert time.monotonic() < deadline
            await poll_until_done(screen.poll_server)
            await pilot.pause(0.3)
        stats = shown_text(screen.query_one("#serve-stats"))
        assert screen.view.health == "down" and "stopped" in stats
        ready_row = next(line for line in stats.splitlines() if line.strip().startswith("ready"))
        assert "yes" not in ready_row


# ---------------------------------------------------------------- 4. full SFT: the model writes code


def _sft_benchmark(stack) -> tuple[str, str]:
    """The SFT items' problems as a benchmark, and the eval prompt's system text (so training matches eval)."""
    import yaml

    from mathbench.core.resources import PROMPTS_DIR

    items = json.loads((stack.ws_root / "datasets" / "pot_sample.json").read_text(encoding="utf-8"))
    path = stack.ws_root / "benchmarks" / "sft_problems.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, item in enumerate(items):
            turns = item.get("conversations") or []
            if len(turns) >= 4 and turns[0]["from"] == "human" and "```python" in turns[1]["value"]:
                question = turns[0]["value"].removeprefix("题目：").strip()
                answer = turns[-1]["value"].split("\\boxed{")[-1].split("}")[0] if "\\boxed{" in turns[-1]["value"] else "0"
                fh.write(json.dumps({"id": f"sft-{i}", "question": question, "answer": answer}, ensure_ascii=False) + "\n")
    system = yaml.safe_load((PROMPTS_DIR / "zh.yaml").read_text(encoding="utf-8"))["system"]
    return str(path), system


def test_4_full_sft_model_writes_code_that_the_sandbox_runs(stack):
    bench, system = _sft_benchmark(stack)
    stack.mb("data", "export", "datasets/pot_sample.json", "--to", "exports", "--name", "pot_with_system",
             "--system", system, "--json", check=True)
    res = stack.mb("train", "full_sft", f"model={stack.model}", "dataset=pot_with_system", "deepspeed=null",
                   "max_steps=200", "lr=2e-3", "save_steps=1000", "warmup_ratio=0.03", *FAST_TRAIN, check=True)
    job_id = res.stdout.strip().splitlines()[-1]
    job = _wait_end(stack, job_id, 1500, "the full SFT run to end")
    assert job["state"] == "succeeded", job
    out = Path(job["output_dir"])
    assert (out / "model.safetensors").is_file()
    served = _serve(stack, str(out), "tiny-full")
    stack.made["full_job"] = served
    run_dir = stack.ws_root / "runs" / "rs-full"
    res = stack.mb("eval", "--benchmark", bench, "--limit", "10", "--base-url", served["url"],
                   "--model", "tiny-full", "--max-tokens", "300", "--run-dir", str(run_dir), "--json",
                   env={"MATHBENCH_API_KEY": _api_key(stack)}, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    recs = [json.loads(x) for x in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    ran = [r for r in recs if r.get("executions")]
    assert ran, "the fine-tuned model wrote no code block the sandbox ran"
    first = ran[0]
    assert first["executions"][0]["status"] in ("ok", "error", "timeout")
    roles = [m["role"] for m in first["messages"]]
    assert roles.count("assistant") >= 2 and "user" in roles[2:]  # the observation turn went back to the model
    stack.mb("jobs", "stop", served["id"], "--grace", "60", check=True)


# ---------------------------------------------------------------- 5. a base model with a LoRA adapter


def test_5_base_model_with_a_lora_adapter_evaluated_by_name(stack):
    adapter = stack.made["lora_dir"]
    job = _serve(stack, str(stack.model), "tiny-base", "--lora", f"pot-lora={adapter}")
    models = json.loads(_get(job["url"] + "/models", _api_key(stack))[1])
    assert {m["id"] for m in models["data"]} == {"tiny-base", "pot-lora"}
    run_dir = stack.ws_root / "runs" / "rs-lora"
    res = stack.mb("eval", "--benchmark", "benchmarks/sample.jsonl", "--limit", "5", "--base-url", job["url"],
                   "--model", "pot-lora", "--max-tokens", "100", "--run-dir", str(run_dir), "--json",
                   env={"MATHBENCH_API_KEY": _api_key(stack)}, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert stack.mb_json("report", str(run_dir), "--json")["total"] == 5
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "pot-lora" in json.dumps(manifest)
    stack.mb("jobs", "stop", job["id"], "--grace", "60", check=True)


# ---------------------------------------------------------------- 6. stopping: the Train screen, `jobs stop`


async def test_6_train_screen_stops_a_run_with_sigabrt(stack):
    from mathbench.tui.app import MathbenchApp

    res = stack.mb("train", "lora_sft", f"model={stack.model}", "max_steps=300", "save_steps=1000", *FAST_TRAIN,
                   check=True)
    job_id = res.stdout.strip().splitlines()[-1]
    out = Path(_job(stack, job_id)["output_dir"])
    app = MathbenchApp(stack.workspace, start="train")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        screen.attach_job(job_id)
        deadline = time.monotonic() + 900
        while not (screen.view and screen.view.step and screen.view.step >= 3):
            assert time.monotonic() < deadline, "the Train screen never saw step 3"
            await poll_until_done(screen.poll_training)
            await pilot.pause(0.5)
        assert "ETA" in shown_text(screen.query_one("#train-stats"))
        await pilot.press("s")
        await pilot.pause(0.3)
        await pilot.press("y")  # the confirm dialog
        deadline = time.monotonic() + 300
        while screen.view is None or screen.view.job_state in ("starting", "running"):
            assert time.monotonic() < deadline, "the run did not stop"
            await poll_until_done(screen.poll_training)
            await pilot.pause(0.5)
        await poll_until_done(screen.poll_training)
        await pilot.pause()
        view = screen.view
        assert view.job_state == "stopped" and view.exit_code == 0
        assert view.phase == f"stopped at step {view.step}/300" and view.eta is None
        stats = shown_text(screen.query_one("#train-stats"))
        assert f"stopped at step {view.step}/300" in stats
    job = _job(stack, job_id)
    assert job["state"] == "stopped" and f"stopped at step {view.step}/300" in job["progress"]["text"]
    assert "ETA" not in job["progress"]["text"]
    assert json.loads((out / "all_results.json").read_text())  # LLaMA-Factory saved on the way out
    assert json.loads((stack.ws_root / "jobs" / job_id / "stop.json").read_text())["signal"] == "SIGABRT"
