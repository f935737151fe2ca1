"""A real OpenAI-chat-compatible HTTP server on loopback that plays a scripted Program-of-Thought model.

Used by tests, benchmarks and `mathbench demo-server`, so the workbench can be tried without a GPU.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mathbench.core.datasets.similarity import normalize_problem

FAULT_KINDS = ("500", "503", "429", "reset", "slow", "garbage", "stream-reset", "empty")

_FENCE_RE = re.compile(r"```(?:[a-zA-Z0-9_+-]*\n)?(.*?)```", re.S)
_NUMBER_RE = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_ERROR_HINT_RE = re.compile(r"Traceback|Error\b|错误|出错", re.I)


def _gold_answer(reference: str) -> str:
    """The bare answer in a reference (GSM8K '####', last \\boxed{}, else itself), without core.answers."""
    ref = str(reference)
    if "####" in ref:
        return ref.rsplit("####", 1)[1].strip().replace(",", "")
    idx = ref.rfind("\\boxed{")
    if idx >= 0:
        depth, start = 0, idx + len("\\boxed{")
        for pos in range(start, len(ref)):
            if ref[pos] == "{":
                depth += 1
            elif ref[pos] == "}":
                if depth == 0:
                    return ref[start:pos].strip()
                depth -= 1
    return ref.strip()


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


@dataclass
class PotScript:
    """The default scripted model: writes code that computes the answer, then boxes whatever output it is shown.

    answer_key maps question text to a reference (bare answer, GSM8K answer or MATH solution).
    accuracy < 1 makes that share of problems (chosen by question hash) compute a wrong answer;
    buggy_rate makes that share first write code that raises, fixed after the traceback comes back.
    """

    answer_key: Mapping[str, str] = field(default_factory=dict)
    accuracy: float = 1.0
    buggy_rate: float = 0.0
    language: str = "auto"
    preamble: str = ""  # e.g. "import sympy as sp\n": real PoT code often starts by importing sympy

    def __post_init__(self) -> None:
        self._key = {normalize_problem(q): _gold_answer(a) for q, a in dict(self.answer_key).items()}

    def __call__(self, messages: Sequence[Mapping[str, Any]]) -> str:
        start = _problem_index(messages)
        question = _content_text(messages[start].get("content", "")) if start is not None else ""
        episode = list(messages[start + 1:]) if start is not None else []
        if _GENERATE_RE.search(question) and not episode:
            return _generated_problem(question)
        zh = self._zh(question + " " + str(messages[0].get("content", "") if messages else ""))
        if not episode:
            return self._first_reply(question, zh)
        observed = _observed_output(_content_text(episode[-1].get("content", "")))
        assistant_turns = sum(1 for m in episode if m.get("role") == "assistant")
        if _ERROR_HINT_RE.search(observed) and assistant_turns < 3:
            return self._fixed_reply(question, zh)
        return self._final_reply(observed, zh)

    def _zh(self, text: str) -> bool:
        if self.language in ("zh", "en"):
            return self.language == "zh"
        return bool(re.search(r"[\u4e00-\u9fff]", text))

    def _answer(self, question: str) -> str:
        key = normalize_problem(question)
        if key in self._key:
            answer = self._key[key]
        else:
            nums = [float(n.replace(",", "")) for n in _NUMBER_RE.findall(question)]
            total = sum(nums)
            answer = str(int(total)) if total == int(total) else repr(total)
        if self.accuracy < 1.0 and (_stable_int("acc:" + key) % 10_000) / 10_000 >= self.accuracy:
            answer = _perturb(answer)
        return answer

    def _code(self, question: str, buggy: bool = False) -> str:
        answer = self._answer(question)
        salt = _stable_int(normalize_problem(question)) % 97 + 3
        if re.fullmatch(r"-?\d+", answer):
            value = int(answer)
            lines = [f"base = {value - salt}", f"extra = {salt}", "result = base + extra"]
        else:
            # The answer is spelled backwards so that only executing the code recovers it.
            lines = [f"encoded = {answer[::-1]!r}", "result = encoded[::-1]"]
        if buggy:
            lines.append("result = result / 0")
        lines.append("print(result)")
        return self.preamble + "\n".join(lines)

    def _first_reply(self, question: str, zh: bool) -> str:
        bug = _stable_int("bug:" + normalize_problem(question)) % 10_000
        code = self._code(question, buggy=self.buggy_rate > 0 and bug / 10_000 < self.buggy_rate)
        if zh:
            head = "首先给出思考过程：我们把题目中的数量关系写成代码，让程序算出结果。\n生成的Python代码如下：\n"
        else:
            head = "Let's think step by step: we write the quantities as code and let the program compute the result.\n"
        return f"{head}```python\n{code}\n```"

    def _fixed_reply(self, question: str, zh: bool) -> str:
        code = self._code(question, buggy=False)
        head = "代码出错了，修正如下：\n" if zh else "The code raised an error; here is a fix:\n"
        return f"{head}```python\n{code}\n```"

    def _final_reply(self, observed: str, zh: bool) -> str:
        value = observed.strip().splitlines()[-1].strip() if observed.strip() else ""
        if zh:
            return f"因此，答案是 \\boxed{{{value}}}。"
        return f"Therefore, the answer is \\boxed{{{value}}}."


_GENERATE_RE = re.compile(r"编写一道新的|Write one new math", re.I)


def _generated_problem(prompt: str) -> str:
    """A new word problem and its answer, varied by the prompt text (scheme-1 synthesis requests)."""
    h = _stable_int(prompt)
    a, b = h % 90 + 10, (h // 97) % 40 + 2
    if re.search(r"[\u4e00-\u9fff]", prompt):
        return f"题目：小明有{a}本书，又买了{b}本，现在一共有多少本书？\n答案：{a + b}"
    return f"Problem: Sam has {a} marbles and wins {b} more. How many marbles does Sam have now?\nAnswer: {a + b}"


def _perturb(answer: str) -> str:
    if re.fullmatch(r"-?\d+", answer):
        return str(int(answer) + 1)
    return answer + "+1"


def _problem_index(messages: Sequence[Mapping[str, Any]]) -> int | None:
    """Index of the turn posing the current problem: the last user turn not answering a code block.

    Earlier complete episodes (few-shot examples) end with an assistant turn without code.
    """
    from mathbench.core.evaluation.pot import extract_code

    found = None
    prev_code = False
    for i, m in enumerate(messages):
        role = m.get("role")
        if role == "assistant":
            prev_code = extract_code(_content_text(m.get("content", ""))) is not None
        elif role != "system":
            if not prev_code:
                found = i
            prev_code = False
    return found


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def _observed_output(text: str) -> str:
    """The output inside the fences of an observation turn (the whole text when unfenced)."""
    blocks = _FENCE_RE.findall(text)
    if blocks:
        return blocks[-1].strip("\n")
    return text


@dataclass
class RequestRecord:
    """One request the server received (the Authorization value itself is never kept)."""

    index: int
    method: str
    path: str
    body: Any
    fault: str | None
    authorized: bool | None
    started: float
    finished: float | None = None
    status: int | None = None
    stream: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)


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


FaultSpec = Mapping[int, str | None] | Sequence[str | None] | Callable[[int, Any], str | None] | None


class DemoServer:
    """A scripted OpenAI-compatible chat server on 127.0.0.1, started in a background thread.

    script(messages) -> reply text; faults: {request_index: kind}, a list indexed by request,
    or a callable(index, body) -> kind|None; fail_rate draws a kind from fail_kinds at random (seeded).
    Kinds: 500, 503, 429, reset (TCP RST), slow (sleeps slow_delay first), garbage (200, non-JSON body),
    stream-reset (resets midway through a streamed reply), empty (200 with an empty body).
    """

    def __init__(
        self,
        script: Callable[[Sequence[Mapping[str, Any]]], str] | None = None,
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
    ) -> None:
        self.script = script or PotScript(answer_key=answer_key or {})
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
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> "DemoServer":
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"server_obj": self})
        httpd = _Server((self.host, self._port), handler)
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"demo-server-{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            httpd.close_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

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

    def close_all(self) -> None:
        """Close idle keep-alive connections so their handler threads end with the server."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Resets and clients that hang up are part of the script, not errors to print.
        pass


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; Nagle would add ~40 ms
    server_obj: DemoServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    # helpers -------------------------------------------------------------------------------
    def _send_json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _send_text(self, status: int, text: str, ctype: str = "text/plain; charset=utf-8") -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, etype: str = "BadRequestError") -> None:
        self._send_json(status, {"object": "error", "message": message, "type": etype, "param": None, "code": status})

    def _reset(self) -> None:
        """Abort the connection with a TCP RST."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def _authorized(self) -> bool | None:
        srv = self.server_obj
        if srv.api_key is None:
            return None
        return self.headers.get("Authorization", "") == f"Bearer {srv.api_key}"

    def _log(self, path: str, body: Any, fault: str | None, index: int) -> RequestRecord:
        rec = RequestRecord(index=index, method=self.command, path=path, body=body, fault=fault,
                            authorized=self._authorized(), started=time.time(),
                            stream=bool(isinstance(body, dict) and body.get("stream")))
        with self.server_obj._lock:
            self.server_obj.requests.append(rec)
        return rec

    # routes --------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        srv = self.server_obj
        path = self.path.split("?", 1)[0]
        rec = self._log(path, None, None, -1)
        if path == "/health" and srv.health:
            self._send_text(200, "")
            rec.status = 200
        elif path == "/metrics":
            self._send_text(200, srv.metrics_text(), "text/plain; version=0.0.4; charset=utf-8")
            rec.status = 200
        elif path == "/v1/models":
            if rec.authorized is False:
                self._error(401, "Unauthorized", "AuthenticationError")
                rec.status = 401
                return
            self._send_json(200, {"object": "list", "data": [{
                "id": srv.model, "object": "model", "created": 0, "owned_by": "mathbench-demo",
                "root": srv.model, "parent": None, "max_model_len": srv.max_model_len}]})
            rec.status = 200
        else:
            self._error(404, f"Not Found: {path}", "NotFoundError")
            rec.status = 404
        rec.finished = time.time()

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        srv = self.server_obj
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path != "/v1/chat/completions":
            self._log(path, None, None, -1).status = 404
            self._error(404, f"Not Found: {path}", "NotFoundError")
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            self._log(path, raw.decode("utf-8", "replace"), None, -1).status = 400
            self._error(400, f"invalid JSON body: {exc}")
            return
        index = srv._next_chat_index()
        fault = srv._pick_fault(index, body)
        rec = self._log(path, body, fault, index)
        try:
            self._chat(rec, body, fault)
        finally:
            rec.finished = time.time()

    def _chat(self, rec: RequestRecord, body: Any, fault: str | None) -> None:
        srv = self.server_obj
        if rec.authorized is False:
            rec.status = 401
            self._error(401, "Unauthorized", "AuthenticationError")
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            rec.status = 400
            self._error(400, "'messages' must be a non-empty list")
            return
        if srv.strict_model and body.get("model") != srv.model:
            rec.status = 404
            self._error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
            return
        if fault == "reset":
            rec.status = 0
            self._reset()
            return
        if fault in ("500", "503", "429"):
            time.sleep(min(0.01, srv._latency_for(rec.index, body)))
            rec.status = int(fault)
            messages = {"500": "Internal Server Error (injected)", "503": "Service Unavailable (injected)",
                        "429": "Too Many Requests (injected)"}
            self._error(rec.status, messages[fault], "InternalServerError" if fault != "429" else "RateLimitError")
            return
        with srv._lock:
            srv._stats.running += 1
            srv._stats.max_running = max(srv._stats.max_running, srv._stats.running)
        started = time.monotonic()
        try:
            delay = srv._latency_for(rec.index, body) + (srv.slow_delay if fault == "slow" else 0.0)
            text = srv.script(body["messages"])
            if fault == "garbage":
                time.sleep(delay)
                rec.status = 200
                self._send_text(200, "<html>upstream proxy hiccup</html>\x00{not json", "application/json")
                return
            if fault == "empty":
                time.sleep(delay)
                rec.status = 200
                self._send_text(200, "", "application/json")
                return
            prompt_tokens = sum(_approx_tokens(_content_text(m.get("content", ""))) for m in body["messages"])
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": _approx_tokens(text),
                     "total_tokens": prompt_tokens + _approx_tokens(text)}
            if body.get("stream"):
                self._stream(rec, body, text, usage, delay, reset_midway=(fault == "stream-reset"))
            else:
                time.sleep(delay)
                rec.status = 200
                self._send_json(200, {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "object": "chat.completion",
                    "created": int(time.time()), "model": srv.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop", "logprobs": None}],
                    "usage": usage})
            if rec.status == 200:
                with srv._lock:
                    srv._stats.success += 1
                    srv._stats.prompt_tokens += usage["prompt_tokens"]
                    srv._stats.generation_tokens += usage["completion_tokens"]
        finally:
            with srv._lock:
                srv._stats.running -= 1
                srv._stats.latency_sum += time.monotonic() - started
                srv._stats.latency_count += 1

    def _stream(self, rec: RequestRecord, body: dict, text: str, usage: dict, delay: float,
                reset_midway: bool) -> None:
        srv = self.server_obj
        cid = f"chatcmpl-{uuid.uuid4().hex[:16]}"
        created = int(time.time())

        def chunk(delta: dict, finish: str | None = None, with_usage: bool = False) -> bytes:
            payload: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created,
                                       "model": srv.model,
                                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                                    "logprobs": None}]}
            if with_usage:
                payload["choices"] = []
                payload["usage"] = usage
            return f"data: {json.dumps(payload)}\n\n".encode("utf-8")

        def send(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
            self.wfile.flush()

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        rec.status = 200
        time.sleep(delay / 2)
        send(chunk({"role": "assistant", "content": ""}))
        pieces = [text[i:i + 24] for i in range(0, len(text), 24)] or [""]
        per_piece = (delay / 2) / max(1, len(pieces))
        for n, piece in enumerate(pieces):
            if reset_midway and n >= len(pieces) // 2:
                rec.status = 0
                self._reset()
                return
            send(chunk({"content": piece}))
            if per_piece > 0:
                time.sleep(per_piece)
        send(chunk({}, "stop"))
        opts = body.get("stream_options") or {}
        if opts.get("include_usage"):
            send(chunk({}, with_usage=True))
        send(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

