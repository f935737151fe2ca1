"""The chat client against real loopback servers: retries, faults, several endpoints, concurrency."""

from __future__ import annotations

import asyncio

import pytest

from mathbench.core.evaluation.client import ChatClient, ChatError, Sampling, resolve_api_key
from mathbench.core.demo.server import DemoServer
from tests.support.evalkit import closed_port_url

MSG = [{"role": "user", "content": "What is 3 + 4?"}]


def _client(urls, **kw) -> ChatClient:
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("max_retries", 6)
    return ChatClient(urls, "demo-pot", api_key="k", **kw)


@pytest.mark.parametrize("stream", [False, True])
async def test_every_fault_kind_is_retried_until_success(stream):
    faults = ["500", "503", "429", "reset", "garbage", "empty", "stream-reset" if stream else "500"]
    with DemoServer(faults=faults) as srv:
        retries = []
        client = _client([srv.base_url], on_retry=retries.append, max_retries=len(faults))
        reply = await client.chat(MSG, stream=stream)
        await client.aclose()
    assert "```python" in reply.text and reply.finish_reason == "stop"
    assert reply.attempts == len(faults) + 1
    assert len(retries) == len(faults)
    assert [r.fault for r in srv.chat_requests] == faults + [None]


async def test_slow_reply_past_the_timeout_is_retried():
    with DemoServer(faults={0: "slow"}, slow_delay=3.0) as srv:
        client = _client([srv.base_url], timeout=0.5)
        reply = await client.chat(MSG)
        await client.aclose()
    assert reply.attempts == 2


async def test_a_request_that_keeps_failing_raises_chat_error_after_max_retries():
    with DemoServer(faults=lambda i, body: "500") as srv:
        client = _client([srv.base_url], max_retries=3)
        with pytest.raises(ChatError) as err:
            await client.chat(MSG)
        await client.aclose()
    assert err.value.attempts == 4 and "HTTP 500" in str(err.value)
    assert len(srv.chat_requests) == 4


async def test_client_errors_are_not_retried():
    with DemoServer(model="other-model") as srv:
        client = _client([srv.base_url])
        with pytest.raises(ChatError) as err:
            await client.chat(MSG)
        await client.aclose()
    assert err.value.attempts == 1 and "404" in str(err.value) and not err.value.retryable


async def test_load_is_spread_over_endpoints_and_a_dead_one_is_survived():
    with DemoServer(latency=0.02) as a, DemoServer(latency=0.02) as b:
        client = _client([a.base_url, b.base_url, closed_port_url()], concurrency=6)
        replies = await asyncio.gather(*(client.chat(MSG) for _ in range(60)))
        await client.aclose()
    assert len(replies) == 60
    served_a, served_b = len(a.chat_requests), len(b.chat_requests)
    assert served_a + served_b == 60
    assert min(served_a, served_b) >= 15, (served_a, served_b)


async def test_concurrency_caps_requests_in_flight():
    with DemoServer(latency=0.1) as srv:
        client = _client([srv.base_url], concurrency=5)
        await asyncio.gather(*(client.chat(MSG) for _ in range(30)))
        await client.aclose()
    assert srv.max_in_flight == 5  # saturated, never over


async def test_sampling_parameters_are_always_sent():
    with DemoServer() as srv:
        client = _client([srv.base_url], sampling=Sampling(temperature=0.3, top_p=0.9, max_tokens=77, seed=5))
        await client.chat(MSG)
        await client.aclose()
    body = srv.chat_requests[0].body
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.3, 0.9, 77, 5)


async def test_api_key_from_environment_is_sent_and_never_shown(monkeypatch):
    monkeypatch.setenv("MATHBENCH_API_KEY", "sk-env-secret-123")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_api_key(None) == "sk-env-secret-123"
    assert resolve_api_key("explicit") == "explicit"
    with DemoServer(api_key="sk-env-secret-123") as srv:
        client = ChatClient([srv.base_url], "demo-pot", max_retries=0)
        await client.chat(MSG)
        assert "sk-env-secret" not in repr(client)
        await client.aclose()
    assert srv.chat_requests[0].authorized is True


async def test_llamafactory_like_endpoint_works_unchanged():
    # LLaMA-Factory's api: no /health, model reported as gpt-3.5-turbo, any model name accepted.
    with DemoServer(model="gpt-3.5-turbo", health=False, strict_model=False) as srv:
        client = ChatClient([srv.base_url.removesuffix("/v1")], "gpt-3.5-turbo", max_retries=0)
        assert await client.list_models() == ["gpt-3.5-turbo"]
        reply = await client.chat(MSG)
        await client.aclose()
    assert reply.text
