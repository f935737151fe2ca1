"""SFT items in ShareGPT, OpenAI-messages or alpaca form, read and written as turns with ShareGPT role names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

FORMATS = ("sharegpt", "messages", "alpaca")
ROLES = ("human", "gpt", "observation", "function_call", "system")
_MESSAGES_TO_ROLE = {"user": "human", "assistant": "gpt", "tool": "observation", "observation": "observation",
                     "function": "function_call", "function_call": "function_call", "system": "system"}
_ROLE_TO_MESSAGES = {"human": "user", "gpt": "assistant", "observation": "tool", "function_call": "function_call",
                     "system": "system"}
PROBLEM_PREFIX = re.compile(r"^\s*(?:题目|问题|Question|Problem)\s*[:：]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Turn:
    """One conversation turn with a ShareGPT role name."""

    role: str
    content: str



def detect_format(item: dict) -> str | None:
    """'sharegpt', 'messages' or 'alpaca' from an item's keys; None when it is none of them."""
    if isinstance(item.get("conversations"), list):
        return "sharegpt"
    if isinstance(item.get("messages"), list):
        return "messages"
    if "instruction" in item or "output" in item:
        return "alpaca"
    if "conversations" in item:
        return "sharegpt"
    if "messages" in item:
        return "messages"
    return None


def _turn_keys(turns: list) -> tuple[str, str]:
    for t in turns:
        if isinstance(t, dict):
            if "from" in t or "value" in t:
                return "from", "value"
            if "role" in t or "content" in t:
                return "role", "content"
    return "from", "value"


def item_turns(item: dict, fmt: str | None = None) -> list[Turn]:
    """The item's turns with ShareGPT role names (malformed turns come out with role '?' or '')."""
    fmt = fmt or detect_format(item)
    if fmt in ("sharegpt", "messages"):
        raw = item.get("conversations" if fmt == "sharegpt" else "messages")
        if not isinstance(raw, list):
            return []
        rk, ck = _turn_keys(raw)
        out = []
        for t in raw:
            if not isinstance(t, dict):
                out.append(Turn("?", "" if t is None else str(t)))
                continue
            role = t.get(rk, "?")
            if fmt == "messages" or rk == "role":
                role = _MESSAGES_TO_ROLE.get(role, role)
            content = t.get(ck, "")
            out.append(Turn(str(role), content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)))
        return out
    if fmt == "alpaca":
        out = []
        if isinstance(item.get("system"), str) and item["system"]:
            out.append(Turn("system", item["system"]))
        for pair in item.get("history") or []:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                out += [Turn("human", str(pair[0])), Turn("gpt", str(pair[1]))]
        prompt = str(item.get("instruction", ""))
        if item.get("input"):
            prompt = f"{prompt}\n{item['input']}"
        out += [Turn("human", prompt), Turn("gpt", str(item.get("output", "")))]
        return out
    return []


def problem_text(item: dict, fmt: str | None = None, *, strip_prefix: bool = True) -> str:
    """The item's problem: its first human turn (without a leading '题目：' when *strip_prefix*)."""
    for t in item_turns(item, fmt):
        if t.role == "human":
            return PROBLEM_PREFIX.sub("", t.content, count=1) if strip_prefix else t.content
    return ""


def write_turns(item: dict, fmt: str, turns: list[Turn]) -> dict:
    """A copy of *item* holding *turns*, other fields and key order kept."""
    for t in turns:
        if t.role not in ROLES:
            raise ValueError(f"unknown role {t.role!r} (expected one of {', '.join(ROLES)})")
    new = dict(item)
    if fmt in ("sharegpt", "messages"):
        key = "conversations" if fmt == "sharegpt" else "messages"
        old = item.get(key) if isinstance(item.get(key), list) else []
        rk, ck = _turn_keys(old) if old else (("from", "value") if fmt == "sharegpt" else ("role", "content"))
        as_messages = fmt == "messages" or rk == "role"
        out = []
        for i, t in enumerate(turns):
            base = dict(old[i]) if i < len(old) and isinstance(old[i], dict) else {}
            old_role = base.get(rk)
            same = (_MESSAGES_TO_ROLE.get(old_role, old_role) if as_messages else old_role) == t.role
            base[rk] = old_role if same else (_ROLE_TO_MESSAGES[t.role] if as_messages else t.role)
            base[ck] = t.content
            out.append(base)
        new[key] = out
        return new
    if fmt == "alpaca":
        body = list(turns)
        system = body.pop(0).content if body and body[0].role == "system" else None
        if len(body) < 2 or len(body) % 2 or any(
            t.role != ("human" if i % 2 == 0 else "gpt") for i, t in enumerate(body)
        ):
            raise ValueError("an alpaca item holds an optional system turn, then human/gpt pairs")
        *hist, prompt, answer = body
        old_prompt = str(item.get("instruction", "")) + (f"\n{item['input']}" if item.get("input") else "")
        if prompt.content != old_prompt:
            new["instruction"] = prompt.content
            if "input" in new:
                new["input"] = ""
        new["output"] = answer.content
        pairs = [[hist[i].content, hist[i + 1].content] for i in range(0, len(hist), 2)]
        if pairs or "history" in new:
            new["history"] = pairs
        if system is not None:
            new["system"] = system
        elif "system" in new:
            new["system"] = ""
        return new
    raise ValueError(f"cannot write turns into an item of unknown format {fmt!r}")


def make_item(turns: Iterable[Turn | tuple[str, str]], fmt: str = "sharegpt") -> dict:
    """A new item of *fmt* holding *turns* (Turn or (role, content) pairs)."""
    turns = [t if isinstance(t, Turn) else Turn(*t) for t in turns]
    base: dict = {"conversations": []} if fmt == "sharegpt" else {"messages": []} if fmt == "messages" else {
        "instruction": "", "input": "", "output": ""}
    return write_turns(base, fmt, turns)



def majority_format(items: list[dict]) -> str:
    counts: dict[str, int] = {}
    for it in items[:1000]:
        f = detect_format(it)
        if f:
            counts[f] = counts.get(f, 0) + 1
    return max(counts, key=counts.get) if counts else "sharegpt"

