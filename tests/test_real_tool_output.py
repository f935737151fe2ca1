"""The parsers replay what the real vLLM 0.32 and LLaMA-Factory 0.9.5 printed (shared captures and tests/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mathbench.core.jobs.serving import ServerLog, parse_metrics, summarize_metrics
from mathbench.core.jobs.training import last_progress, parse_console_metrics, read_trainer_log, training_status

HERE = Path(__file__).resolve().parent / "data" / "real_stack"


def _log(path: Path) -> ServerLog:
    return ServerLog().feed_all(path.read_text(encoding="utf-8", errors="replace").splitlines())


def test_vllm_startup_and_stats(shared_data):
    log = _log(shared_data / "real_stack" / "vllm" / "startup_and_stats.log")
    s = log.summary()
    assert (s["engine_init_s"], s["kv_cache_tokens"], s["kv_cache_gib"], s["max_concurrency"]) == (19.26, 1_048_576, 1.0, 512.0)
    assert s["max_concurrency_tokens"] == 2048 and s["api_server"] == "http://127.0.0.1:28493"
    assert s["ready"] and s["errors"] == 0 and not s["engine_dead"] and s["version"] == "0.32.0"
    assert s["model"] == "/home/user/models/tiny-qwen-hd64" and s["weights_loaded_s"] == 0.01
    assert log.shutdown  # it ends with the SIGINT shutdown
    assert len(log.stats) >= 5 and all(p.kv_cache_pct is not None for p in log.stats)
    assert max(p.gen_tps for p in log.stats) > 3000
    assert log.pids["APIServer"] == 19489 and log.pids["EngineCore"] == 19570 and log.pids["Worker"] == 19597


def test_a_warning_quoting_an_oserror_is_not_an_error():
    line = ("(APIServer pid=1) WARNING 12-01 21:34:59 [system_utils.py:255] Found ulimit of 20000 and failed to "
            "automatically increase with error current limit exceeds maximum limit. This can cause fd limit errors "
            "like `OSError: [Errno 24] Too many open files`. Consider increasing with ulimit -n")
    assert ServerLog().feed_all([line]).error_count == 0
    assert ServerLog().feed_all(["OSError: [Errno 98] Address already in use"]).error_count == 1


def test_several_milestones_on_one_line():
    log = ServerLog().feed_all(["(EngineCore pid=7) INFO 12-01 21:35:30 [kv_cache_utils.py:2327] GPU KV cache size: "
                                "903,008 tokens, Maximum concurrency for 32,768 tokens per request: 27.56x"])
    assert log.summary()["kv_cache_tokens"] == 903_008 and log.summary()["max_concurrency"] == 27.56


def test_vllm_engine_died_then_exit_0(shared_data):
    log = _log(shared_data / "real_stack" / "vllm" / "engine_died_exit0.log")
    s = log.summary()
    assert s["ready"] and s["engine_dead"] and s["errors"] > 0 and log.shutdown
    assert s["root_cause"] == "RuntimeError: Unsupported CPU attention configuration: head_dim=16 isa=2 kv_cache_idx=0"


def test_vllm_engine_death_during_its_own_shutdown_is_not_an_engine_death(shared_data):
    log = _log(shared_data / "real_stack" / "vllm" / "stopped_by_group_sigint.log")
    assert log.shutdown and not log.engine_dead and log.error_count == 0 and log.shutdown_errors == 8


def test_vllm_cuda_build_on_a_cpu(shared_data):
    log = _log(shared_data / "real_stack" / "vllm" / "cuda_build_on_cpu_fails.log")
    assert not log.ready and log.root_cause.startswith("RuntimeError: Failed to infer device type")


def test_vllm_on_an_avx2_machine():
    s = _log(HERE / "vllm_avx2_enforce_eager.log").summary()
    assert s["ready"] and s["errors"] == 0 and s["engine_init_s"] == 5.05 and s["kv_cache_tokens"] == 1_048_576
    assert s["kv_cache_gib"] == 1.0 and s["shutdown"]


def test_real_metrics(shared_data):
    snap = summarize_metrics(parse_metrics((shared_data / "real_stack" / "vllm" / "metrics.txt").read_text()))
    assert snap.kv_cache_tokens == 1_048_576 and snap.model_names == ("/home/user/models/tiny-qwen-hd64",)
    assert snap.requests_finished == 504 and snap.generation_tokens == 90681
    assert set(snap.finished_by_reason) == {"stop", "length", "abort", "error", "repetition"}
    assert snap.requests_errored == 0 and snap.kv_cache_usage == 0.0


def test_llamafactory_console_and_running_log(shared_data):
    run = shared_data / "real_stack" / "llamafactory" / "lora_run"
    lines = (run / "stdout.log").read_text(encoding="utf-8").replace("\r", "\n").splitlines()
    console = [m for m in map(parse_console_metrics, lines) if m and "grad_norm" in m]
    assert len(console) == 20 and console[0] == pytest.approx(
        {"loss": 7.653, "grad_norm": 1.331, "learning_rate": 0.0, "epoch": 0.07143, "num_input_tokens_seen": 352,
         "train_runtime": 3.692, "train_tokens_per_second": 95.35})
    running = [parse_console_metrics(x) for x in (run / "running_log.txt").read_text(encoding="utf-8").splitlines()]
    logged = [m for m in running if m and "loss" in m]
    assert len(logged) == 20 and logged[0] == {"loss": 7.6733, "learning_rate": 0.0, "epoch": 0.03, "throughput": 120.70}
    ours = (HERE / "lf_lora_avx2_stdout.log").read_text(encoding="utf-8").replace("\r", "\n").splitlines()
    assert len([m for m in map(parse_console_metrics, ours) if m and "grad_norm" in m]) == 20


def test_llamafactory_finished_and_stopped_runs(shared_data):
    done = training_status(shared_data / "real_stack" / "llamafactory" / "lora_run")
    assert done.finished and done.progress.phase == "finished" and done.progress.eta is None
    assert (done.progress.step, done.progress.total) == (20, 20)
    stopped_dir = shared_data / "real_stack" / "llamafactory" / "stopped_run"
    p = training_status(stopped_dir).progress
    assert p.phase == "stopped at step 8/300" and p.eta is None and p.stopped_early
    assert p.remaining == 617.0  # the stale remaining_time the last record keeps, never shown as an ETA
    text = last_progress(stopped_dir).text
    assert text.startswith("stopped at step 8/300") and "ETA" not in text
    assert read_trainer_log(stopped_dir).records == 9
