"""Faults a real server throws at the chat client, over loopback: trickles, endless streams, huge replies,
Retry-After, and a server that dies and comes back."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from mathbench.core.demo import DemoServer
from mathbench.core.evaluation.client import ChatClient, ChatError, EndpointsDown

MSG = [{"role": "user", "content": "What is 3 + 4?"}]


def _client(srv: DemoServer, **kw) -> ChatClient:
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("max_retries", 0)
    return ChatClient([srv.base_url], "demo-pot", api_key="k", **kw)


def _raw_post(port: int, body: dict) -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


# -- the server's faults, seen on a raw socket ---------------------------------------------------------


def test_trickle_sends_the_body_one_byte_at_a_time():
    with DemoServer(faults=["trickle"], trickle_interval=0.2) as srv:
        sock = _raw_post(srv.port, {"model": "demo-pot", "messages": MSG})
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        started = time.monotonic()
        got = b""
        while time.monotonic() - started < 1.0:
            got += sock.recv(64)
        sock.close()
    assert length > 100 and 2 <= len(got) <= 8  # about five bytes in a second of a reply hundreds long


def test_endless_stream_never_finishes_and_stops_with_the_server():
    srv = DemoServer(faults=["endless"]).start()
    sock = _raw_post(srv.port, {"model": "demo-pot", "messages": MSG, "stream": True})
    got = b""
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        got += sock.recv(4096)
    assert got.count(b"data: ") >= 10 and b"[DONE]" not in got and b"finish_reason\": \"stop" not in got
    srv.kill()
    sock.settimeout(5)
    with pytest.raises(OSError):  # reset by the dying server, or a clean EOF read as a reset below
        while True:
            if not sock.recv(4096):
                raise ConnectionResetError("closed")
    sock.close()


def test_kill_refuses_new_connections_and_restart_serves_on_the_same_port():
    srv = DemoServer().start()
    port = srv.port
    srv.kill()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    srv.start()
    try:
        assert srv.port == port
        sock = _raw_post(port, {"model": "demo-pot", "messages": MSG})
        assert sock.recv(12).startswith(b"HTTP/1.1 200")
        sock.close()
    finally:
        srv.stop()


# -- the client: one deadline per request, the size cap, Retry-After ----------------------------------


@pytest.mark.parametrize(("fault", "stream"), [("trickle", False), ("trickle", True), ("endless", True),
                                               ("endless", False)])
async def test_a_reply_that_never_completes_times_out_as_a_whole(fault, stream):
    with DemoServer(faults=[fault], trickle_interval=0.2) as srv:
        client = _client(srv, timeout=1.0)
        await client.list_models()  # imports and connects first, so the clock below times the reply alone
        started = time.monotonic()
        with pytest.raises(ChatError, match="timeout after 1s"):
            await client.chat(MSG, stream=stream)
        elapsed = time.monotonic() - started
        await client.aclose()
    assert 0.9 < elapsed < 3.0, elapsed  # bytes kept coming, yet one deadline held for the whole reply


@pytest.mark.parametrize("stream", [False, True])
async def test_a_reply_over_the_size_cap_is_an_error_not_retried(stream):
    with DemoServer(faults=lambda i, body: "huge", huge_bytes=1_500_000) as srv:
        client = _client(srv, max_retries=3)
        with pytest.raises(ChatError, match=r"reply larger than 1 MB") as err:
            await client.chat(MSG, stream=stream)
        await client.aclose()
        assert err.value.attempts == 1 and not err.value.retryable
        big = _client(srv, max_reply_bytes=4_000_000)
        reply = await big.chat(MSG, stream=stream)
        await big.aclose()
    assert len(reply.text) > 1_500_000  # under a larger cap the same reply comes through


async def test_retry_after_is_honoured():
    with DemoServer(faults=["retry-after"], retry_after=1.0) as srv:
        client = _client(srv, max_retries=2)
        reply = await client.chat(MSG)
        await client.aclose()
        first, second = srv.chat_requests
    assert reply.attempts == 2
    assert second.started - first.finished >= 0.95  # waited what the server asked, not 10 ms of backoff


async def test_retry_after_is_capped():
    with DemoServer(faults=["retry-after"], retry_after=3600) as srv:
        client = _client(srv, max_retries=2, retry_after_max=0.3)
        started = time.monotonic()
        await client.chat(MSG)
        await client.aclose()
    assert time.monotonic() - started < 3.0


# -- the server dies: the client pauses, goes on when it answers, or gives up -------------------------


async def test_a_dead_server_pauses_requests_until_it_comes_back():
    srv = DemoServer(latency=0.05).start()
    events: list = []
    client = _client(srv, max_retries=2, down_wait=30, probe_interval=0.2, concurrency=4,
                     on_down=lambda since: events.append(("down", since)),
                     on_up=lambda down_for: events.append(("up", down_for)))
    try:
        await client.chat(MSG)
        srv.kill()
        tasks = [asyncio.create_task(client.chat(MSG)) for _ in range(6)]
        deadline = time.monotonic() + 20
        while not events and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert events and events[0][0] == "down" and client.down_since is not None
        await asyncio.sleep(1.0)  # requests wait: none of them fails meanwhile
        assert not any(t.done() for t in tasks)
        srv.start()
        replies = await asyncio.wait_for(asyncio.gather(*tasks), 20)
    finally:
        await client.aclose()
        srv.stop()
    assert len(replies) == 6 and all("```python" in r.text for r in replies)
    assert [e[0] for e in events] == ["down", "up"] and client.down_since is None


async def test_a_server_that_stays_down_ends_the_wait_with_endpoints_down():
    srv = DemoServer().start()
    client = _client(srv, max_retries=5, down_wait=1.0, probe_interval=0.2)
    try:
        await client.chat(MSG)
        srv.kill()
        started = time.monotonic()
        results = await asyncio.gather(*(client.chat(MSG) for _ in range(3)), return_exceptions=True)
        waited = time.monotonic() - started
        with pytest.raises(EndpointsDown):  # and later requests are not even tried
            await client.chat(MSG)
    finally:
        await client.aclose()
        srv.stop()
    assert all(isinstance(r, EndpointsDown) for r in results), results
    assert 0.9 < waited < 10
    assert "down since" in str(results[0]) and "gave up after" in str(results[0])


async def test_without_down_wait_a_dead_server_is_an_error_as_before():
    srv = DemoServer().start()
    client = _client(srv, max_retries=2)
    try:
        srv.kill()
        with pytest.raises(ChatError, match="connection error"):
            await client.chat(MSG)
    finally:
        await client.aclose()
        srv.stop()
