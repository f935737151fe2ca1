"""The demo server speaks the OpenAI chat API over real loopback HTTP and plays a PoT model."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import openai
import pytest

from mathbench.core.demo.server import DemoServer, PotScript
from mathbench.core.evaluation.pot import extract_code

Q = "Tom has 3 apples and buys 4 more. How many apples does he have?"


def _post(url: str, body: dict, headers: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def test_plain_reply_has_code_that_computes_the_key_answer():
    with DemoServer(answer_key={Q: "#### 7"}) as srv:
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="k", max_retries=0)
        resp = await client.chat.completions.create(model="demo-pot", messages=[{"role": "user", "content": Q}])
        await client.close()
    text = resp.choices[0].message.content
    code = extract_code(text)
    assert code is not None and "print(7)" not in code and "= 7\n" not in code
    scope: dict = {}
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(code, scope)  # noqa: S102 - the server's own scripted code, to check it computes the key
    assert buf.getvalue().strip() == "7"
    assert resp.usage.completion_tokens > 0 and resp.choices[0].finish_reason == "stop"


async def test_streaming_reply_and_observation_boxes_what_was_fed_back():
    with DemoServer(answer_key={Q: "7"}) as srv:
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="k", max_retries=0)
        msgs = [{"role": "user", "content": Q}, {"role": "assistant", "content": "```python\nprint(7)\n```"},
                {"role": "user", "content": "Running it gives:\n```\n12345\n```"}]
        stream = await client.chat.completions.create(model="demo-pot", messages=msgs, stream=True,
                                                      stream_options={"include_usage": True})
        parts, finish, usage = [], None, None
        async for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            for ch in chunk.choices:
                parts.append(ch.delta.content or "")
                finish = ch.finish_reason or finish
        await client.close()
    text = "".join(parts)
    # It boxes the fed-back output, not the right answer: only a client that ran the code scores.
    assert "\\boxed{12345}" in text and finish == "stop" and usage.completion_tokens > 0


def test_seed_style_inline_observation_is_understood():
    script = PotScript(answer_key={Q: "7"})
    msgs = [{"role": "user", "content": "题目：" + Q}, {"role": "assistant", "content": "```python\nprint(3 + 4)```"},
            {"role": "user", "content": "现在将上面的代码复制到Python环境中运行，运行结果为：```7```"}]
    assert "\\boxed{7}" in script(msgs) and script(msgs).startswith("因此")


def test_models_health_metrics_and_auth():
    with DemoServer(model="m1", api_key="sekret") as srv:
        assert urllib.request.urlopen(srv.root_url + "/health").status == 200
        status, _ = _post(srv.base_url + "/chat/completions", {"model": "m1", "messages": [{"role": "user", "content": "1+1"}]})
        assert status == 401
        req = urllib.request.Request(srv.base_url + "/models", headers={"Authorization": "Bearer sekret"})
        models = json.load(urllib.request.urlopen(req))
        assert [m["id"] for m in models["data"]] == ["m1"]
        status, body = _post(srv.base_url + "/chat/completions",
                             {"model": "m1", "messages": [{"role": "user", "content": "1+1"}]},
                             {"Authorization": "Bearer sekret"})
        assert status == 200 and json.loads(body)["choices"][0]["message"]["content"]
        metrics = urllib.request.urlopen(srv.root_url + "/metrics").read().decode()
    values = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
              if line and not line.startswith("#")}
    assert values["vllm:request_success_total"] == 1.0
    assert values["vllm:generation_tokens_total"] > 0
    assert all(r.authorized in (True, False, None) for r in srv.requests)
    assert not any("sekret" in json.dumps(r.to_dict()) for r in srv.requests)


def test_llamafactory_style_server_has_no_health_and_any_model_name():
    with DemoServer(model="gpt-3.5-turbo", health=False, strict_model=False) as srv:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(srv.root_url + "/health")
        assert err.value.code == 404
        status, _ = _post(srv.base_url + "/chat/completions",
                          {"model": "whatever", "messages": [{"role": "user", "content": "2+2"}]})
        assert status == 200


def test_wrong_model_name_is_404_like_vllm():
    with DemoServer(model="served") as srv:
        status, body = _post(srv.base_url + "/chat/completions",
                             {"model": "other", "messages": [{"role": "user", "content": "2+2"}]})
    assert status == 404 and b"does not exist" in body


def test_fault_schedule_is_followed_in_order():
    faults = ["500", "429", "garbage", "reset", None]
    with DemoServer(faults=faults) as srv:
        seen = []
        for _ in faults:
            try:
                status, body = _post(srv.base_url + "/chat/completions",
                                     {"model": "demo-pot", "messages": [{"role": "user", "content": "1+2"}]})
                seen.append((status, body[:1]))
            except (urllib.error.URLError, ConnectionError, OSError):
                seen.append(("reset", b""))
    assert [s for s, _ in seen] == [500, 429, 200, "reset", 200]
    assert seen[2][1] != b"{"  # garbage, not JSON
    assert [r.fault for r in srv.chat_requests] == faults


def test_keep_alive_serves_many_requests_on_one_connection():
    import http.client

    with DemoServer() as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        for _ in range(3):
            conn.request("POST", "/v1/chat/completions",
                         body=json.dumps({"model": "demo-pot", "messages": [{"role": "user", "content": "1"}]}),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["object"] == "chat.completion"
        sock: socket.socket = conn.sock
        assert sock is not None  # the same socket was reused, never reopened
        conn.close()


def test_buggy_code_is_fixed_after_traceback():
    script = PotScript(answer_key={Q: "7"}, buggy_rate=1.0)
    first = script([{"role": "user", "content": Q}])
    assert "/ 0" in extract_code(first)
    fixed = script([{"role": "user", "content": Q}, {"role": "assistant", "content": first},
                    {"role": "user", "content": "```\nZeroDivisionError: division by zero\n```"}])
    assert "/ 0" not in extract_code(fixed)


def test_few_shot_episodes_before_the_problem_are_not_mistaken_for_observations():
    script = PotScript(answer_key={Q: "7"})
    shot = [{"role": "user", "content": "题目：1+1?"}, {"role": "assistant", "content": "```python\nprint(2)\n```"},
            {"role": "user", "content": "运行结果为：```2```"}, {"role": "assistant", "content": "因此 \\boxed{2}"}]
    reply = script([{"role": "system", "content": "s"}, *shot, {"role": "user", "content": Q}])
    assert extract_code(reply) is not None
