"""`vllm serve` and `llamafactory-cli api` stand-ins launched as jobs: ready, models, metrics, key, stop."""

from __future__ import annotations

import json
import stat
import urllib.request

import pytest

from mathbench.core import jobs
from mathbench.core.jobs import serving
from mathbench.core.jobs.registry import free_port
from tests.standins import mathbench, standins, wait_for, ws  # noqa: F401  (fixtures)


def _chat(base_url: str, key: str, model: str) -> dict:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "1+1?"}], "temperature": 0}).encode()
    req = urllib.request.Request(base_url + "/chat/completions", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_vllm_job_becomes_ready_lists_models_and_serves_metrics(ws, standins, monkeypatch, tmp_path):
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("STANDIN_RECORD", str(record))
    port = free_port()
    job = serving.start_server(ws, "/models/Qwen2.5-7B-Instruct", port=port, served_model_name="qwen-pot",
                               lora=["pot=/out/lora1"], tensor_parallel_size=2)
    assert job.url == f"http://127.0.0.1:{port}/v1"
    key = serving.workspace_api_key(ws)
    st = serving.wait_ready(job.url, key, timeout=30, job=(ws, job.id))
    assert st.ready and st.health == "ready"
    status = serving.server_status(job.url, key)
    assert [m.id for m in status.models] == ["qwen-pot", "pot"]
    assert status.models[0].max_model_len == 32768 and status.models[1].parent == "qwen-pot"
    assert status.metrics.model_names == ("qwen-pot",)

    # The launch: loopback, sampling left to the client, key in the environment only.
    argv = json.loads(record.read_text().splitlines()[0])["argv"]
    assert argv[1:3] == ["serve", "/models/Qwen2.5-7B-Instruct"]
    joined = " ".join(argv)
    for part in ("--host 127.0.0.1", f"--port {port}", "--generation-config vllm", "--served-model-name qwen-pot",
                 "--tensor-parallel-size 2", "--enable-lora --lora-modules pot=/out/lora1",
                 "--disable-uvicorn-access-log"):
        assert part in joined
    assert key not in joined
    assert key not in (job.dir / "job.json").read_text()
    assert json.loads(record.read_text().splitlines()[0])["env"]["VLLM_API_KEY"] == key
    mode = stat.S_IMODE(serving.api_key_path(ws).stat().st_mode)
    assert mode == 0o600

    # /v1 needs the key; /health and /metrics do not.
    with pytest.raises(PermissionError):
        serving.list_models(job.url, None)
    with pytest.raises(PermissionError):
        serving.list_models(job.url, "wrong")

    tracker = serving.MetricsTracker()
    tracker.add(serving.fetch_metrics(job.url))
    for _ in range(3):
        assert _chat(job.url, key, "qwen-pot")["choices"][0]["message"]["content"] == "\\boxed{42}"
    point = tracker.add(serving.fetch_metrics(job.url))
    assert point.gen_tps > 0 and tracker.last.generation_tokens == 51220 + 60

    # The log: milestones, then the periodic stats line.
    log = serving.ServerLog()
    reader = jobs.IncrementalReader(job.log_path)

    def stats_seen():
        log.feed_all(reader.read_lines())
        return len(log.stats) >= 2

    wait_for(stats_seen, what="stats lines")
    s = log.summary()
    assert s["ready"] and s["kv_cache_tokens"] == 1_048_576 and s["max_concurrency"] == 32.0
    assert s["kv_cache_gib"] == 1.0 and s["engine_init_s"] == 19.26 and s["version"] == "0.32.0"
    assert s["weights_loaded_s"] == 0.01 and log.latest.prefix_hit_pct == 0.0 and s["errors"] == 0

    eps = serving.ready_endpoints(ws)
    assert [(e.base_url, e.models, e.api_key, e.job_id) for e in eps] == [(job.url, ["qwen-pot", "pot"], key, job.id)]

    stopped = jobs.stop_job(ws, job.id, grace=20)
    assert (stopped.state, stopped.exit_code) == ("stopped", 0)  # SIGINT: clean shutdown
    assert "Application shutdown complete." in "\n".join(jobs.tail_log(stopped, 3))
    after = serving.ServerLog().feed_all(jobs.tail_log(stopped, 500))
    assert after.shutdown and not after.engine_dead and after.error_count == 0  # the API server alone got SIGINT
    assert serving.probe_health(job.url) == "down"
    assert serving.ready_endpoints(ws) == []


def test_vllm_startup_failure_is_a_failed_job_with_the_error(ws, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_EXIT", "1")
    job = serving.start_server(ws, "/models/too-big", port=free_port())
    job = jobs.wait_job(ws, job.id, timeout=30)
    assert (job.state, job.exit_code) == ("failed", 1)
    log = serving.ServerLog().feed_all(jobs.tail_log(job, 100))
    assert not log.ready and any("CUDA out of memory" in e for e in log.errors)
    assert serving.wait_ready(job.url, timeout=5, job=(ws, job.id)).health == "down"


def test_llamafactory_api_engine(ws, standins, monkeypatch, tmp_path):
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("STANDIN_RECORD", str(record))
    port = free_port()
    job = serving.start_server(ws, "/models/Qwen1.5-32B-Chat", engine="llamafactory", port=port,
                               lora=["pot=/out/lora"], served_model_name="qwen-pot")
    key = serving.workspace_api_key(ws)
    st = serving.wait_ready(job.url, key, timeout=30, job=(ws, job.id))
    assert st.health == "no-health" and st.ready  # no /health route: readiness is /v1/models answering
    assert [m.id for m in st.models] == ["qwen-pot"]
    seen = json.loads(record.read_text().splitlines()[0])
    assert seen["argv"][1] == "api"
    assert seen["env"]["API_PORT"] == str(port) and seen["env"]["API_HOST"] == "127.0.0.1"
    assert seen["env"]["API_MODEL_NAME"] == "qwen-pot" and seen["env"]["API_KEY"] == key
    cfg = (job.dir / "api.yaml").read_text()
    assert "adapter_name_or_path: \"/out/lora\"" in cfg and "template: qwen" in cfg
    log = serving.ServerLog().feed_all(jobs.tail_log(job, 50))
    assert log.ready
    assert jobs.stop_job(ws, job.id, grace=20).state == "stopped"


def test_server_ignoring_signals_is_killed_after_grace(ws, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_IGNORE_SIGNALS", "1")
    job = serving.start_server(ws, "/m", port=free_port(), api_key=False)
    serving.wait_ready(job.url, None, timeout=30, job=(ws, job.id))
    stopped = jobs.stop_job(ws, job.id, grace=0.3)
    assert (stopped.state, stopped.exit_code) == ("stopped", -9)


def test_cli_serve_wait_and_bad_lora(ws, standins):
    port = free_port()
    out = mathbench("-w", str(ws.root), "serve", "/models/q", "--port", str(port), "--wait", "--timeout", "30")
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    assert f"ready: http://127.0.0.1:{port}/v1 models: /models/q" in out.stderr
    listed = json.loads(mathbench("-w", str(ws.root), "jobs", "--json").stdout)
    assert listed[0]["id"] == job_id and listed[0]["progress"]["text"] == f"http://127.0.0.1:{port}/v1"
    jobs.stop_job(ws, job_id, grace=10)
    bad = mathbench("-w", str(ws.root), "serve", "/models/q", "--lora", "nopath")
    assert bad.returncode == 2 and "NAME=PATH" in bad.stderr


def test_unreachable_server_status():
    st = serving.server_status(f"http://127.0.0.1:{free_port()}")
    assert (st.health, st.ready, st.models, st.metrics) == ("down", False, [], None)
    assert serving.root_url("http://h:1/v1/") == "http://h:1" and serving.api_base("http://h:1") == "http://h:1/v1"


def test_engine_death_logged_during_a_stop_is_shutdown_noise(ws, standins):
    """A group SIGINT makes the server log EngineDeadError after its shutdown began: not an engine death."""
    import signal

    job = serving.start_server(ws, "/m", port=free_port(), api_key=False)
    assert serving.wait_ready(job.url, None, timeout=30, job=(ws, job.id)).ready
    job = jobs.get_job(ws, job.id)
    assert len(jobs.job_pids(job)) >= 2  # the API server and its engine
    jobs.signal_job(job, signal.SIGINT, target="tree")
    wait_for(lambda: serving.ServerLog().feed_all(jobs.tail_log(job, 500)).shutdown_errors, what="EngineDeadError")
    log = serving.ServerLog().feed_all(jobs.tail_log(job, 500))
    assert log.shutdown and not log.engine_dead and log.error_count == 0
    jobs.stop_job(ws, job.id, grace=10)


def test_a_server_whose_engine_died_and_that_exited_0_has_failed(ws, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_ENGINE_DIES", "1")
    job = serving.start_server(ws, "/m", port=free_port(), api_key=False)
    assert serving.wait_ready(job.url, None, timeout=30, job=(ws, job.id)).ready
    try:
        _chat(job.url, None, "/m")
    except Exception:  # noqa: BLE001 - the request that kills the engine fails
        pass
    job = jobs.wait_job(ws, job.id, timeout=30)
    assert (job.state, job.exit_code) == ("failed", 0) and "ended by itself" in job.error
    log = serving.ServerLog().feed_all(jobs.tail_log(job, 500))
    assert log.engine_dead and log.root_cause.startswith("RuntimeError: Unsupported CPU attention")


def test_serve_refuses_a_taken_port_and_names_who_holds_it(ws, standins):
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = mathbench("-w", str(ws.root), "serve", "/models/q", "--port", str(port), "--wait", "--timeout", "30")
        assert out.returncode == 2, out.stderr
        assert f"port {port} is already in use by pid {os.getpid()}" in out.stderr
        assert not list(ws.jobs_dir.iterdir())  # nothing was launched


def test_ready_means_our_job_serving_the_model_asked_for(ws, standins):
    from mathbench.core.demo.server import DemoServer

    job = serving.start_server(ws, "/models/q", port=free_port(), api_key=False, served_model_name="mine")
    assert serving.wait_ready(job.url, None, timeout=30, job=(ws, job.id)).ready
    with DemoServer(model="someone-else") as other:  # a server this test process holds, not the job
        st = serving.server_status(other.base_url)
        serving.check_is_job_server(st, jobs.get_job(ws, job.id), ["mine"])
        assert not st.ready and "is not job" in st.not_ours
    st = serving.server_status(job.url)
    serving.check_is_job_server(st, jobs.get_job(ws, job.id), ["not-served"])
    assert not st.ready and "does not serve not-served" in st.not_ours
    jobs.stop_job(ws, job.id, grace=10)


def test_threads_that_all_find_no_key_agree_on_one(ws):  # noqa: F811
    """The form's preview and the launch may race to create the workspace key: both must get the same one."""
    import threading

    barrier, keys = threading.Barrier(8), []

    def create():
        barrier.wait()
        keys.append(serving.workspace_api_key(ws))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and keys[0] == serving.workspace_api_key(ws, create=False)
    assert stat.S_IMODE(serving.api_key_path(ws).stat().st_mode) == 0o600
    assert [p.name for p in serving.api_key_path(ws).parent.iterdir() if p.name.endswith(".tmp")] == []
