"""A real OpenAI-chat-compatible HTTP server on loopback that plays a scripted Program-of-Thought model.

Used by tests, benchmarks and `mathbench demo-server`, so the workbench can be tried without a GPU.
"""

from __future__ import annotations

import inspect
import random
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from http.server import ThreadingHTTPServer
from typing import Any

from mathbench.core.demo.handler import Handler, RequestRecord
from mathbench.core.demo.script import PotScript

FAULT_KINDS = ("500", "503", "429", "reset", "slow", "garbage", "stream-reset", "empty", "trickle", "endless", "huge",
               "retry-after")

class _Stats:
    """Counters for /metrics, guarded by the server's lock."""

    def __init__(self) -> None:
        self.running = 0
        self.max_running = 0
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.success = 0
        self.latency_sum = 0.0
        self.latency_count = 0


def _takes_request(script: Callable[..., str]) -> bool:
    try:
        return "request" in inspect.signature(script).parameters
    except (TypeError, ValueError):
        return False


FaultSpec = Mapping[int, str | None] | Sequence[str | None] | Callable[[int, Any], str | None] | None


class DemoServer:
    """A scripted OpenAI-compatible chat server on 127.0.0.1, started in a background thread.

    script(messages[, request=body]) -> reply text; faults: {request_index: kind}, a list indexed by request,
    or a callable(index, body) -> kind|None; fail_rate draws a kind from fail_kinds at random (seeded).
    Kinds: 500, 503, 429, reset (TCP RST), slow (sleeps slow_delay first), garbage (200, non-JSON body),
    stream-reset (resets midway through a streamed reply), empty (200 with an empty body), trickle (the
    body one byte every trickle_interval seconds), endless (a body or SSE stream that never ends), huge (a
    reply of huge_bytes), retry-after (429 with a Retry-After of retry_after seconds). kill() drops every
    connection at once, as a crashed server would; start() again serves on the same port.
    """

    def __init__(
        self,
        script: Callable[..., str] | None = None,
        latency: float | Callable[[int, Any], float] = 0.0,
        fail_rate: float = 0.0,
        faults: FaultSpec = None,
        model: str = "demo-pot",
        port: int = 0,
        *,
        answer_key: Mapping[str, str] | None = None,
        fail_kinds: Iterable[str] = ("500",),
        slow_delay: float = 2.0,
        api_key: str | None = None,
        health: bool = True,
        strict_model: bool = True,
        seed: int = 0,
        host: str = "127.0.0.1",
        max_model_len: int = 4096,
        trickle_interval: float = 1.0,
        huge_bytes: int = 2_000_000,
        retry_after: float = 1.0,
    ) -> None:
        self.script = script or PotScript(answer_key=answer_key or {})
        self._script_takes_request = _takes_request(self.script)
        self.trickle_interval = trickle_interval
        self.huge_bytes = huge_bytes
        self.retry_after = retry_after
        self.alive = threading.Event()  # cleared by stop/kill: endless and trickling replies end with it
        self.latency = latency
        self.fail_rate = fail_rate
        self.faults = faults
        self.fail_kinds = tuple(fail_kinds)
        for kind in self.fail_kinds:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        self.model = model
        self.slow_delay = slow_delay
        self.api_key = api_key
        self.health = health
        self.strict_model = strict_model
        self.host = host
        self.max_model_len = max_model_len
        self._port = port
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counter = 0
        self._stats = _Stats()
        self.requests: list[RequestRecord] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> "DemoServer":
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (Handler,), {"server_obj": self})
        httpd = _Server((self.host, self._port), handler)
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self.alive.set()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"demo-server-{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.alive.clear()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            httpd.close_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def kill(self) -> None:
        """Die like a killed process: refuse new connections and reset every open one at once."""
        self.alive.clear()
        httpd = self._httpd
        if httpd is not None:
            httpd.server_close()  # the listening socket first: new connections are refused from now on
            httpd.close_all(reset=True)
        self.stop()

    def __enter__(self) -> "DemoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Start (if needed) and block until interrupted."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    # views ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def chat_requests(self) -> list[RequestRecord]:
        """The log restricted to POST /v1/chat/completions."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def max_in_flight(self) -> int:
        """Most chat requests ever being served at once."""
        return self._stats.max_running

    # internals -----------------------------------------------------------------------------
    def _next_chat_index(self) -> int:
        with self._lock:
            index = self._counter
            self._counter += 1
            return index

    def _pick_fault(self, index: int, body: Any) -> str | None:
        spec = self.faults
        kind: str | None = None
        if callable(spec):
            kind = spec(index, body)
        elif isinstance(spec, Mapping):
            kind = spec.get(index)
        elif isinstance(spec, Sequence) and not isinstance(spec, str):
            kind = spec[index] if index < len(spec) else None
        if kind is None and self.fail_rate > 0:
            with self._lock:
                if self._rng.random() < self.fail_rate:
                    kind = self._rng.choice(self.fail_kinds)
        if kind is not None and kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        return kind

    def reply_text(self, body: Mapping[str, Any]) -> str:
        """What the script answers to a request body."""
        if self._script_takes_request:
            return self.script(body["messages"], request=body)
        return self.script(body["messages"])

    def _latency_for(self, index: int, body: Any) -> float:
        lat = self.latency
        return float(lat(index, body)) if callable(lat) else float(lat)

    def metrics_text(self) -> str:
        """A vLLM-like Prometheus exposition of the server's counters."""
        s = self._stats
        lbl = f'engine="0",model_name="{self.model}"'
        lines = [
            "# HELP vllm:num_requests_running Number of requests in model execution batches.",
            "# TYPE vllm:num_requests_running gauge",
            f"vllm:num_requests_running{{{lbl}}} {float(s.running)}",
            "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
            "# TYPE vllm:num_requests_waiting gauge",
            f"vllm:num_requests_waiting{{{lbl}}} 0.0",
            "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
            "# TYPE vllm:kv_cache_usage_perc gauge",
            f"vllm:kv_cache_usage_perc{{{lbl}}} {min(1.0, s.running / 64):.4f}",
            "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.",
            "# TYPE vllm:prompt_tokens_total counter",
            f"vllm:prompt_tokens_total{{{lbl}}} {float(s.prompt_tokens)}",
            "# HELP vllm:generation_tokens_total Number of generation tokens processed.",
            "# TYPE vllm:generation_tokens_total counter",
            f"vllm:generation_tokens_total{{{lbl}}} {float(s.generation_tokens)}",
            "# HELP vllm:request_success_total Count of successfully processed requests.",
            "# TYPE vllm:request_success_total counter",
            f'vllm:request_success_total{{{lbl},finished_reason="stop"}} {float(s.success)}',
            "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.",
            "# TYPE vllm:e2e_request_latency_seconds histogram",
            f"vllm:e2e_request_latency_seconds_sum{{{lbl}}} {s.latency_sum:.6f}",
            f"vllm:e2e_request_latency_seconds_count{{{lbl}}} {float(s.latency_count)}",
        ]
        return "\n".join(lines) + "\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default backlog of 5 drops SYNs when 64 clients connect at once

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_all(self, *, reset: bool = False) -> None:
        """Close open connections so their handler threads end with the server (with a TCP RST if *reset*)."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                if reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Resets and clients that hang up are part of the script, not errors to print.
        pass
