"""vLLM's /metrics exposition, startup log milestones and periodic stats line, parsed."""

from __future__ import annotations

import pytest

from mathbench.core.jobs.serving import (
    MetricsSnapshot, MetricsTracker, ServerLog, parse_metrics, parse_stats_line, summarize_metrics,
)
from tests.standins import HERE

EXPOSITION = (HERE / "vllm_metrics.txt").read_text()

STARTUP_LOG = """\
(EngineCore_DP0 pid=164) INFO 01-23 15:48:47 [gpu_model_runner.py:2602] Starting to load model /models/mistral-7b...
(EngineCore_DP0 pid=164) INFO 01-23 15:49:07 [default_loader.py:267] Loading weights took 19.62 seconds
(EngineCore_DP0 pid=164) INFO 01-23 15:49:08 [gpu_model_runner.py:2653] Model loading took 3.8844 GiB and 20.442057 seconds
(EngineCore_DP0 pid=164) INFO 01-23 15:49:41 [monitor.py:34] torch.compile takes 13.29 s in total
(EngineCore_DP0 pid=164) INFO 01-23 15:50:05 [gpu_worker.py:298] Available KV cache memory: 102.56 GiB
(EngineCore_DP0 pid=164) INFO 01-23 15:50:06 [kv_cache_utils.py:1087] GPU KV cache size: 840,160 tokens
(EngineCore_DP0 pid=164) INFO 01-23 15:50:06 [kv_cache_utils.py:1091] Maximum concurrency for 32,768 tokens per request: 25.64x
Capturing CUDA graphs (decode, FULL): 100%|████| 35/35 [00:05<00:00,  6.23it/s]
(EngineCore_DP0 pid=164) INFO 01-23 15:50:29 [gpu_model_runner.py:3480] Graph capturing finished in 18 secs, took -0.03 GiB
(EngineCore_DP0 pid=164) INFO 01-23 15:50:29 [core.py:210] init engine (profile, create kv cache, warmup model) took 81.30 seconds
(APIServer pid=1) INFO 01-23 15:50:32 [api_server.py:1637] Supported_tasks: ['generate']
(APIServer pid=1) INFO 01-23 15:50:32 [api_server.py:1915] Starting vLLM API server 0 on http://0.0.0.0:8000
(APIServer pid=1) INFO 01-23 15:50:32 [launcher.py:34] Available routes are:
(APIServer pid=1) INFO 01-23 15:50:32 [launcher.py:42] Route: /health, Methods: GET
(APIServer pid=1) INFO:     Started server process [1]
(APIServer pid=1) INFO:     Waiting for application startup.
(APIServer pid=1) INFO:     Application startup complete.
"""

STATS_LINES = [
    "(APIServer pid=12152) INFO 08-11 03:54:05 [loggers.py:123] Engine 000: Avg prompt throughput: 0.0 tokens/s, "
    "Avg generation throughput: 35.4 tokens/s, Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 21.8%, "
    "Prefix cache hit rate: 66.4%",
    "DEBUG 08-07 15:35:23 [loggers.py:122] Engine 000: Avg prompt throughput: 0.0 tokens/s, Avg generation "
    "throughput: 0.0 tokens/s, Running: 106 reqs, Waiting: 15 reqs, GPU KV cache usage: 90.4%, Prefix cache hit "
    "rate: 30.5%",
]


def test_exposition_parses_to_vllm_numbers():
    samples = parse_metrics(EXPOSITION)
    snap = summarize_metrics(samples, now=100.0)
    assert (snap.running, snap.waiting) == (3.0, 2.0)  # not num_requests_waiting_by_reason
    assert snap.kv_cache_usage == pytest.approx(0.218)
    assert (snap.prompt_tokens, snap.generation_tokens) == (98412.0, 51220.0)
    assert snap.requests_finished == 122.0  # summed across finished_reason
    assert snap.prefix_cache_hits == 65344.0 and snap.preemptions == 0.0
    assert (snap.ttft_count, snap.e2e_count) == (122.0, 122.0)
    assert snap.ttft_sum == pytest.approx(4.812306642532349)
    assert snap.model_names == ("Qwen/Qwen2.5-7B-Instruct",)
    assert snap.kv_cache_tokens == 52510 * 16 and snap.cache_config["enable_prefix_caching"] == "True"
    info = next(s for s in samples if s.name == "vllm:cache_config_info")
    assert info.label("num_gpu_blocks") == "52510" and info.label("gpu_memory_utilization") == "0.9"
    rss = next(s for s in samples if s.name == "process_resident_memory_bytes")
    assert rss.labels == () and rss.value == 1.8372608e9
    inf = [s for s in samples if s.name == "vllm:time_to_first_token_seconds_bucket" and s.label("le") == "+Inf"]
    assert inf[0].value == 122.0


def test_doc_example_lines_and_engines_summed_kv_averaged():
    text = """\
vllm:prompt_tokens_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 80.0
vllm:generation_tokens_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 500.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="Qwen/Qwen3-0.6B"} 10.0
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen3-0.6B"} 0.0
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-0.6B"} 0.0
vllm:kv_cache_usage_perc{engine="1",model_name="Qwen/Qwen3-0.6B"} 0.5
vllm:num_requests_running{engine="1",model_name="Qwen/Qwen3-0.6B"} 4.0
vllm:generation_tokens_total{engine="1",model_name="Qwen/Qwen3-0.6B"} 100.0
"""
    snap = summarize_metrics(parse_metrics(text))
    assert (snap.prompt_tokens, snap.generation_tokens, snap.ttft_count) == (80.0, 600.0, 10.0)
    assert (snap.running, snap.kv_cache_usage) == (4.0, 0.25)
    assert snap.waiting is None  # absent, not zero
    assert snap.kv_cache_tokens is None
    labelled = summarize_metrics(parse_metrics(
        'vllm:cache_config_info{block_size="16",kv_cache_size_tokens="123433",num_gpu_blocks="7714"} 1.0\n'))
    assert labelled.kv_cache_tokens == 123433


def test_old_kv_cache_name_is_accepted_and_new_one_preferred():
    old = summarize_metrics(parse_metrics('vllm:gpu_cache_usage_perc{engine="0"} 0.55\n'))
    assert old.kv_cache_usage == 0.55
    both = summarize_metrics(parse_metrics('vllm:kv_cache_usage_perc{engine="0"} 0.33\n'
                                           'vllm:gpu_cache_usage_perc{engine="0"} 0.99\n'))
    assert both.kv_cache_usage == 0.33


def test_label_values_with_escapes_braces_and_commas():
    samples = parse_metrics('m{a="x,y}",b="say \\"hi\\"\\nnext",c="back\\\\slash"} 2.5e+01 1700000000000\n'
                            'bad line without value\nm2 NaN\n')
    assert samples[0].labels == (("a", "x,y}"), ("b", 'say "hi"\nnext'), ("c", "back\\slash"))
    assert samples[0].value == 25.0
    assert samples[1].name == "m2" and samples[1].value != samples[1].value  # NaN


def test_tracker_turns_counter_deltas_into_tokens_per_second():
    t = MetricsTracker()
    first = t.add(MetricsSnapshot(time=10.0, generation_tokens=1000.0, prompt_tokens=50.0, kv_cache_usage=0.2))
    assert first.gen_tps is None and first.kv_cache_pct == pytest.approx(20.0)
    second = t.add(MetricsSnapshot(time=12.0, generation_tokens=1300.0, prompt_tokens=250.0))
    assert (second.gen_tps, second.prompt_tps) == (150.0, 100.0)
    reset = t.add(MetricsSnapshot(time=13.0, generation_tokens=10.0, prompt_tokens=0.0))  # server restarted
    assert reset.gen_tps is None
    assert len(t.points) == 3


def test_startup_milestones_from_a_published_log():
    log = ServerLog().feed_all(STARTUP_LOG.splitlines())
    s = log.summary()
    assert s["weights_loaded_s"] == 19.62
    assert (s["model_memory_gib"], s["model_load_s"]) == (3.8844, 20.442057)
    assert (s["kv_cache_gib"], s["kv_cache_tokens"]) == (102.56, 840160)
    assert (s["max_concurrency"], s["max_concurrency_tokens"]) == (25.64, 32768)
    assert s["engine_init_s"] == 81.30
    assert s["api_server"] == "http://0.0.0.0:8000"
    assert s["ready"] is True and log.errors == []
    assert log.milestones["loading"] == "/models/mistral-7b"


def test_not_ready_before_startup_complete_and_errors_kept():
    log = ServerLog().feed_all(STARTUP_LOG.splitlines()[:6])
    assert not log.ready and log.summary()["kv_cache_tokens"] == 840160
    log.feed("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.02 GiB.")
    log.feed("(EngineCore_DP0 pid=1) ERROR 01-23 15:50:06 [core.py:708] EngineCore failed to start.")
    assert len(log.errors) == 2


def test_stats_lines_real_and_variants():
    a = parse_stats_line(STATS_LINES[0], now=5.0)
    assert (a.prompt_tps, a.gen_tps, a.running, a.waiting) == (0.0, 35.4, 1, 0)
    assert (a.kv_cache_pct, a.prefix_hit_pct, a.engine, a.log_time) == (21.8, 66.4, "Engine 000", "08-11 03:54:05")
    b = parse_stats_line(STATS_LINES[1])
    assert (b.running, b.waiting, b.kv_cache_pct) == (106, 15, 90.4)
    old = parse_stats_line("INFO 05-01 10:00:00 metrics.py:341] Avg prompt throughput: 12.5 tokens/s, Avg generation "
                           "throughput: 300.1 tokens/s, Running: 8 reqs, Waiting: 2 reqs, Preemptions: 1")
    assert (old.engine, old.gen_tps, old.kv_cache_pct, old.extra) == (None, 300.1, None, {"Preemptions": 1.0})
    agg = parse_stats_line("4 Engines Aggregated: Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: "
                           "2.0 tokens/s, Running: 3 reqs, Waiting: 4 reqs, Deferred: 1 reqs, GPU KV cache usage: 5.0%")
    assert agg.engine == "4 Engines Aggregated" and agg.extra == {"Deferred": 1.0} and agg.kv_cache_pct == 5.0
    assert parse_stats_line("INFO: 127.0.0.1 - GET /metrics 200") is None
    log = ServerLog()
    for line in STATS_LINES:
        log.feed(line)
    assert [p.running for p in log.stats] == [1, 106] and log.latest.waiting == 15
