"""HTTP under the chat client: a cap on the size of every reply, and the server's Retry-After read in seconds."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import AsyncIterator
from typing import Any

DEFAULT_MAX_REPLY_BYTES = 1_000_000


class ReplyTooLarge(Exception):
    """A reply body longer than the cap: an item error, never a huge results line."""

    def __init__(self, limit: int, seen: int | None = None):
        self.limit = limit
        self.seen = seen
        shown = f"{limit / 1e6:g} MB" if limit >= 100_000 else f"{limit} bytes"
        super().__init__(f"reply larger than {shown}" + (f" ({seen} bytes announced)" if seen else ""))


def too_large_cause(exc: BaseException) -> ReplyTooLarge | None:
    """The ReplyTooLarge behind *exc* (the openai client may wrap it), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ReplyTooLarge):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a reply asks the client to wait (Retry-After: seconds or an HTTP date; retry-after-ms), or None."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            delay = float(value) / divisor
        except ValueError:
            continue
        return delay if math.isfinite(delay) and delay >= 0 else None
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def capped_transport(limit: int, **kwargs: Any) -> Any:
    """An httpx2 async transport whose responses raise ReplyTooLarge once their body passes *limit* bytes."""
    import httpx2

    class _CappedStream(httpx2.AsyncByteStream):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        async def __aiter__(self) -> AsyncIterator[bytes]:
            total = 0
            async for chunk in self._inner:
                total += len(chunk)
                if total > limit:
                    raise ReplyTooLarge(limit)
                yield chunk

        async def aclose(self) -> None:
            await self._inner.aclose()

    class _CappedTransport(httpx2.AsyncBaseTransport):
        def __init__(self) -> None:
            self._inner = httpx2.AsyncHTTPTransport(**kwargs)

        async def handle_async_request(self, request: Any) -> Any:
            response = await self._inner.handle_async_request(request)
            announced = response.headers.get("content-length")
            if announced and announced.isdigit() and int(announced) > limit:
                await response.aclose()
                raise ReplyTooLarge(limit, int(announced))
            response.stream = _CappedStream(response.stream)
            return response

        async def aclose(self) -> None:
            await self._inner.aclose()

    return _CappedTransport()
