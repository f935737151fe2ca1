"""OpenAI-compatible async chat client: several endpoints, N requests in flight, retries with backoff.

Retries are our own loop (the openai client's max_retries is 0) so that a retry can move to another
endpoint, each attempt is counted and reported, and garbage 200 bodies are retried like 5xx. Each
attempt has one whole deadline (a trickling body or an endless stream times out), a reply over the size
cap is an error, and Retry-After is honoured up to a cap. With *down_wait* set, when every endpoint keeps
refusing connections the client pauses: requests wait, a probe asks GET /v1/models, and they go on when
one answers, or fail with EndpointsDown once the outage outlasts down_wait.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mathbench.core.evaluation.pot import Unanswered
from mathbench.core.keyfile import API_KEY_ENV_VARS, API_KEY_FILE_ENV, take_key_file
from mathbench.core.evaluation.transport import (
    DEFAULT_MAX_REPLY_BYTES,
    ReplyTooLarge,
    capped_transport,
    retry_after_seconds,
    too_large_cause,
)

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
DOWN_AFTER = 5  # consecutive connection failures on every endpoint that make the client pause

_handed: dict[str, str | None] = {}
_handed_lock = threading.Lock()


def handed_key() -> str | None:
    """The key our parent handed over in $MATHBENCH_API_KEY_FILE: read on first use, then the file is deleted."""
    with _handed_lock:
        if "key" not in _handed:
            path = os.environ.pop(API_KEY_FILE_ENV, None)
            _handed["key"] = take_key_file(path) if path else None
        return _handed["key"]


def resolve_api_key(explicit: str | None = None) -> str | None:
    """The API key from the argument, else the one handed over in a file, else $MATHBENCH_API_KEY, else
    $OPENAI_API_KEY (None when there is none)."""
    if explicit:
        return explicit
    handed = handed_key()
    if handed:
        return handed
    for name in API_KEY_ENV_VARS:
        value = os.environ.get(name)
        if value:
            return value
    return None


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters, always sent explicitly (vLLM otherwise applies generation_config silently)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 2048
    seed: int | None = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def request_kwargs(self) -> dict:
        kw: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.seed is not None:
            kw["seed"] = self.seed
        return kw


@dataclass
class ChatReply:
    """One completed chat reply."""

    text: str
    finish_reason: str | None
    usage: dict
    latency: float
    endpoint: str
    attempts: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RetryInfo:
    """Passed to on_retry before the client sleeps and tries again."""

    endpoint: str
    attempt: int
    error: str
    delay: float


class ChatError(Exception):
    """A chat request that failed for good (retries exhausted or a non-retryable error)."""

    def __init__(self, message: str, *, attempts: int, endpoint: str | None, retryable: bool) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.endpoint = endpoint
        self.retryable = retryable


class EndpointsDown(Unanswered):
    """Every endpoint refused connections for longer than the client waits: the request was never answered."""

    def __init__(self, since: float, waited: float) -> None:
        self.since = since
        self.waited = waited
        super().__init__(f"every endpoint down since {time.strftime('%H:%M:%S', time.localtime(since))}; "
                         f"gave up after {waited:.0f} s")


@dataclass
class Failure:
    """How one attempt failed: retryable or not, a message, its kind, and the wait the server asked for."""

    retryable: bool
    message: str
    kind: str = "other"  # connection | timeout | status | too-large | bad-response | other
    retry_after: float | None = None


class BadResponse(Exception):
    """A 200 reply whose body is not a chat completion (an empty or garbage body)."""


@dataclass
class _Endpoint:
    base_url: str
    client: Any
    in_flight: int = 0
    served: int = 0
    failures: int = 0
    penalty_until: float = 0.0
    refused: int = 0  # consecutive connection failures (any answer resets it)


@dataclass
class EndpointStats:
    """What one endpoint has done so far."""

    base_url: str
    in_flight: int
    served: int
    failures: int


def _normalize_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    if not url.endswith("/v1") and "/v1/" not in url + "/":
        url += "/v1"
    return url


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


class ChatClient:
    """Chat completions spread over base URLs (least in flight first), at most `concurrency` in flight."""

    def __init__(
        self,
        base_urls: Sequence[str] | str,
        model: str,
        api_key: str | None = None,
        sampling: Sampling | None = None,
        concurrency: int = 16,
        timeout: float = 600.0,
        max_retries: int = 5,
        *,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        stream: bool = False,
        on_retry: Callable[[RetryInfo], None] | None = None,
        rng: random.Random | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        retry_after_max: float = 60.0,
        down_wait: float = 0.0,
        probe_interval: float = 1.0,
        on_down: Callable[[float], None] | None = None,
        on_up: Callable[[float], None] | None = None,
    ) -> None:
        if isinstance(base_urls, str):
            base_urls = [base_urls]
        if not base_urls:
            raise ValueError("at least one base URL is needed")
        self.base_urls = [_normalize_base_url(u) for u in base_urls]
        self.model = model
        self._api_key = resolve_api_key(api_key)
        self.sampling = sampling or Sampling()
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stream = stream
        self.on_retry = on_retry
        self._rng = rng or random.Random()
        self._sem: asyncio.Semaphore | None = None
        self._endpoints: list[_Endpoint] | None = None
        self._rr = 0
        self.retries = 0
        self.max_reply_bytes = int(max_reply_bytes)
        self.retry_after_max = float(retry_after_max)
        self.down_wait = float(down_wait)
        self.probe_interval = float(probe_interval)
        self.on_down, self.on_up = on_down, on_up
        self.down_since: float | None = None  # wall time every endpoint went down (None while one answers)
        self._down_mono = 0.0
        self._up: asyncio.Event | None = None
        self._gave_up: EndpointsDown | None = None
        self._probe: asyncio.Task | None = None

    def __repr__(self) -> str:  # the key stays out of reprs and logs
        return f"ChatClient(base_urls={self.base_urls!r}, model={self.model!r}, concurrency={self.concurrency})"

    # setup -------------------------------------------------------------------------------------
    def _ensure(self) -> list[_Endpoint]:
        if self._endpoints is None:
            import httpx2
            import openai

            per_endpoint = self.concurrency + 4
            self._endpoints = []
            for url in self.base_urls:
                limits = httpx2.Limits(max_connections=per_endpoint, max_keepalive_connections=per_endpoint)
                http_client = httpx2.AsyncClient(transport=capped_transport(self.max_reply_bytes, limits=limits),
                                                 timeout=self.timeout)
                client = openai.AsyncOpenAI(base_url=url, api_key=self._api_key or "EMPTY", max_retries=0,
                                            timeout=self.timeout, http_client=http_client)
                self._endpoints.append(_Endpoint(url, client))
            self._sem = asyncio.Semaphore(self.concurrency)
            self._up = asyncio.Event()
            self._up.set()
        return self._endpoints

    async def aclose(self) -> None:
        """Close every endpoint's HTTP connections."""
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
            self._probe = None
        for ep in self._endpoints or []:
            try:
                await ep.client.close()
            except Exception:  # noqa: BLE001 - closing must not mask the real outcome
                pass
        self._endpoints = None

    async def __aenter__(self) -> "ChatClient":
        self._ensure()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def endpoint_stats(self) -> list[EndpointStats]:
        """Per-endpoint counters (in flight, served, failures)."""
        return [EndpointStats(e.base_url, e.in_flight, e.served, e.failures) for e in self._endpoints or []]

    def _pick(self, avoid: str | None) -> _Endpoint:
        eps = self._ensure()
        now = time.monotonic()
        candidates = [e for e in eps if e.base_url != avoid] or eps
        healthy = [e for e in candidates if e.penalty_until <= now] or candidates
        self._rr = (self._rr + 1) % len(eps)
        # Least in flight first; the rotating offset breaks ties so equal endpoints share the load.
        return min(healthy, key=lambda e: (e.in_flight, (eps.index(e) - self._rr) % len(eps)))

    # requests ----------------------------------------------------------------------------------
    async def chat(self, messages: list[dict], stream: bool | None = None, *, seed: int | None = None) -> ChatReply:
        """Send one chat completion, retrying retryable failures with exponential backoff and jitter.

        *seed* overrides the sampling seed (one per sample). Raises ChatError, or EndpointsDown when
        every endpoint stayed unreachable past down_wait.
        """
        self._ensure()
        assert self._sem is not None
        use_stream = self.stream if stream is None else stream
        attempt = 0
        avoid: str | None = None
        while True:
            await self._wait_until_up()
            attempt += 1
            async with self._sem:
                ep = self._pick(avoid)
                ep.in_flight += 1
                started = time.monotonic()
                try:
                    async with asyncio.timeout(self.timeout):  # one deadline for the whole reply
                        text, finish, usage = await self._once(ep, messages, use_stream, seed)
                except Exception as exc:  # noqa: BLE001 - classified below
                    failure = self._classify(exc)
                    ep.failures += 1
                    ep.penalty_until = time.monotonic() + min(self.backoff_max, self.backoff_base * 2)
                    ep.refused = ep.refused + 1 if failure.kind == "connection" else 0
                else:
                    ep.served += 1
                    ep.refused = 0
                    return ChatReply(text=text, finish_reason=finish, usage=usage,
                                     latency=time.monotonic() - started, endpoint=ep.base_url, attempts=attempt)
                finally:
                    ep.in_flight -= 1
            if failure.kind == "connection" and self._all_refusing(exhausted=attempt > self.max_retries):
                attempt -= 1  # waiting out an outage uses up no retries
                continue
            if not failure.retryable or attempt > self.max_retries:
                raise ChatError(f"{failure.message} (after {attempt} attempt{'s' if attempt > 1 else ''})",
                                attempts=attempt, endpoint=ep.base_url, retryable=failure.retryable) from None
            if failure.retry_after is not None:
                delay = min(self.retry_after_max, failure.retry_after)
            else:
                delay = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
                delay = delay / 2 + self._rng.random() * delay / 2  # "equal jitter": spreads synchronized retries
            self.retries += 1
            if self.on_retry is not None:
                self.on_retry(RetryInfo(ep.base_url, attempt, failure.message, delay))
            avoid = ep.base_url if len(self.base_urls) > 1 else None
            await asyncio.sleep(delay)

    # outages ---------------------------------------------------------------------------------
    def _all_refusing(self, *, exhausted: bool) -> bool:
        """True (and the client paused) when every endpoint keeps refusing connections."""
        eps = self._ensure()
        if self.down_wait <= 0:
            return False
        if self.down_since is not None:
            return True
        if all(e.refused >= DOWN_AFTER for e in eps) or (exhausted and all(e.refused > 0 for e in eps)):
            self._go_down()
            return True
        return False

    def _go_down(self) -> None:
        assert self._up is not None
        self.down_since = time.time()
        self._down_mono = time.monotonic()
        self._up.clear()
        self._probe = asyncio.get_running_loop().create_task(self._probe_until_up(), name="chat-probe")
        if self.on_down is not None:
            self.on_down(self.down_since)

    async def _wait_until_up(self) -> None:
        if self._gave_up is not None:
            raise self._gave_up
        assert self._up is not None
        if not self._up.is_set():
            await self._up.wait()
            if self._gave_up is not None:
                raise self._gave_up

    async def _probe_until_up(self) -> None:
        """Ask GET /v1/models of every endpoint until one answers, or give up after down_wait."""
        assert self._up is not None and self.down_since is not None
        eps = self._ensure()
        interval = self.probe_interval
        while True:
            left = self.down_wait - (time.monotonic() - self._down_mono)
            if left <= 0:
                self._gave_up = EndpointsDown(self.down_since, time.monotonic() - self._down_mono)
                self._up.set()  # wakes the waiters, who raise
                return
            await asyncio.sleep(min(interval, left))
            for ep in eps:
                try:
                    await asyncio.wait_for(ep.client.models.list(), timeout=min(5.0, self.timeout))
                except Exception:  # noqa: BLE001 - still down
                    continue
                ep.refused = 0
                down_for = time.monotonic() - self._down_mono
                self.down_since = None
                self._up.set()
                if self.on_up is not None:
                    self.on_up(down_for)
                return
            interval = min(5.0, interval * 1.5)

    # requests ----------------------------------------------------------------------------------
    async def _once(self, ep: _Endpoint, messages: list[dict], stream: bool,
                    seed: int | None) -> tuple[str, str | None, dict]:
        kwargs = dict(model=self.model, messages=messages, **self.sampling.request_kwargs())
        if seed is not None:
            kwargs["seed"] = seed
        if not stream:
            resp = await ep.client.chat.completions.create(**kwargs)
            choices = getattr(resp, "choices", None)
            if not choices:
                raise BadResponse(f"reply is not a chat completion: {str(resp)[:80]!r}")
            msg = choices[0].message
            usage = _usage_dict(getattr(resp, "usage", None))
            return (msg.content or ""), choices[0].finish_reason, usage
        parts: list[str] = []
        finish: str | None = None
        usage: dict = {}
        response = await ep.client.chat.completions.create(stream=True, stream_options={"include_usage": True},
                                                           **kwargs)
        async for chunk in response:
            if getattr(chunk, "usage", None):
                usage = _usage_dict(chunk.usage)
            for choice in getattr(chunk, "choices", None) or []:
                if choice.delta is not None and choice.delta.content:
                    parts.append(choice.delta.content)
                if choice.finish_reason:
                    finish = choice.finish_reason
        if finish is None:
            raise BadResponse("stream ended without a finish_reason")
        return "".join(parts), finish, usage

    def _classify(self, exc: Exception) -> Failure:
        """How one attempt failed; the API key is redacted from every message."""
        import openai

        kind = type(exc).__name__
        too_large = too_large_cause(exc)
        if too_large is not None:
            return Failure(False, str(too_large), "too-large")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _short(str(getattr(exc, "message", "") or exc))
            wait = retry_after_seconds(getattr(exc.response, "headers", None))
            return Failure(status in RETRY_STATUSES, _redact(f"HTTP {status}: {detail}", self._api_key), "status",
                           wait)
        if isinstance(exc, openai.APITimeoutError | asyncio.TimeoutError | TimeoutError):
            return Failure(True, f"timeout after {self.timeout:g}s", "timeout")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            extra = f" ({type(cause).__name__})" if cause is not None else ""
            return Failure(True, f"connection error{extra}", "connection")
        if isinstance(exc, BadResponse | ValueError | openai.APIResponseValidationError):
            return Failure(True, _redact(f"bad response: {_short(str(exc))}", self._api_key), "bad-response")
        if isinstance(exc, OSError):
            return Failure(True, f"{kind}: {_short(str(exc))}", "connection")
        return Failure(False, _redact(f"{kind}: {_short(str(exc))}", self._api_key))

    async def list_models(self, base_url: str | None = None) -> list[str]:
        """Model ids served at one endpoint (GET /v1/models; LLaMA-Factory says gpt-3.5-turbo)."""
        eps = self._ensure()
        ep = next((e for e in eps if e.base_url == base_url), eps[0]) if base_url else eps[0]
        page = await ep.client.models.list()
        return [m.id for m in page.data]


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _usage_dict(usage: Any) -> dict:
    if usage is None:
        return {}
    return {"prompt_tokens": getattr(usage, "prompt_tokens", None),
            "completion_tokens": getattr(usage, "completion_tokens", None)}


async def preflight(client: ChatClient) -> dict[str, dict]:
    """Per endpoint: {"ok": bool, "models": [...], "error": str|None}; /v1/models, since LLaMA-Factory has no /health."""
    out: dict[str, dict] = {}

    async def check(url: str) -> None:
        try:
            models = await asyncio.wait_for(client.list_models(url), timeout=min(30.0, client.timeout))
            out[url] = {"ok": True, "models": models, "error": None}
        except Exception as exc:  # noqa: BLE001 - reported per endpoint
            out[url] = {"ok": False, "models": [], "error": client._classify(exc).message}

    await asyncio.gather(*(check(u) for u in client.base_urls))
    return out


__all__ = ["ChatClient", "ChatReply", "ChatError", "EndpointsDown", "ReplyTooLarge", "Sampling", "RetryInfo",
           "EndpointStats", "preflight", "resolve_api_key", "API_KEY_ENV_VARS", "handed_key"]
