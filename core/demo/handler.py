"""The demo server's HTTP handler: the OpenAI routes, /metrics, and every injected fault."""

from __future__ import annotations

import json
import socket
import struct
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from mathbench.core.demo.script import content_text

if TYPE_CHECKING:
    from mathbench.core.demo.server import DemoServer


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


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class Handler(BaseHTTPRequestHandler):
    """One connection to the demo server; its routes read the DemoServer it is bound to."""

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
        if fault in ("500", "503", "429", "retry-after"):
            time.sleep(min(0.01, srv._latency_for(rec.index, body)))
            rec.status = 429 if fault == "retry-after" else int(fault)
            messages = {"500": "Internal Server Error (injected)", "503": "Service Unavailable (injected)",
                        "429": "Too Many Requests (injected)", "retry-after": "Too Many Requests (injected)"}
            headers = {"Retry-After": f"{srv.retry_after:g}"} if fault == "retry-after" else None
            self._send_json(rec.status, {"object": "error", "message": messages[fault], "param": None,
                                         "type": "RateLimitError" if rec.status == 429 else "InternalServerError",
                                         "code": rec.status}, headers)
            return
        with srv._lock:
            srv._stats.running += 1
            srv._stats.max_running = max(srv._stats.max_running, srv._stats.running)
        started = time.monotonic()
        try:
            delay = srv._latency_for(rec.index, body) + (srv.slow_delay if fault == "slow" else 0.0)
            text = srv.reply_text(body)
            if fault == "huge":
                text += "\n" + "x" * srv.huge_bytes
            if fault == "endless":
                rec.status = 200
                self._endless(bool(body.get("stream")))
                return
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
            prompt_tokens = sum(_approx_tokens(content_text(m.get("content", ""))) for m in body["messages"])
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": _approx_tokens(text),
                     "total_tokens": prompt_tokens + _approx_tokens(text)}
            if body.get("stream"):
                self._stream(rec, body, text, usage, delay, reset_midway=(fault == "stream-reset"),
                             trickle=(fault == "trickle"))
            else:
                time.sleep(delay)
                rec.status = 200
                payload = {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "object": "chat.completion",
                    "created": int(time.time()), "model": srv.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop", "logprobs": None}],
                    "usage": usage}
                if fault == "trickle":
                    self._trickle_json(payload)
                else:
                    self._send_json(200, payload)
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

    def _trickle_json(self, payload: Any) -> None:
        """A whole JSON reply announced up front, then sent one byte every trickle_interval seconds."""
        srv = self.server_obj
        data = json.dumps(payload).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for i in range(len(data)):
            if not srv.alive.is_set():
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(srv.trickle_interval)

    def _endless(self, stream: bool) -> None:
        """A reply that never ends: SSE chunks forever, or a chunked body of blanks, until the server stops."""
        srv = self.server_obj
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream" if stream else "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = {"id": "chatcmpl-endless", "object": "chat.completion.chunk", "created": int(time.time()),
                 "model": srv.model, "choices": [{"index": 0, "delta": {"content": "and so on "},
                                                  "finish_reason": None, "logprobs": None}]}
        data = f"data: {json.dumps(piece)}\n\n".encode("utf-8") if stream else b" "
        while srv.alive.is_set():
            self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
            self.wfile.flush()
            time.sleep(0.05)

    def _stream(self, rec: RequestRecord, body: dict, text: str, usage: dict, delay: float,
                reset_midway: bool, trickle: bool = False) -> None:
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
            framed = f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n"
            if not trickle:
                self.wfile.write(framed)
                self.wfile.flush()
                return
            for i in range(len(framed)):
                if not srv.alive.is_set():
                    raise ConnectionAbortedError("server stopped")
                self.wfile.write(framed[i:i + 1])
                self.wfile.flush()
                time.sleep(srv.trickle_interval)

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        rec.status = 200
        time.sleep(delay / 2)
        send(chunk({"role": "assistant", "content": ""}))
        size = max(24, len(text) // 200)  # a huge reply goes out in a few hundred pieces, not tens of thousands
        pieces = [text[i:i + size] for i in range(0, len(text), size)] or [""]
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

