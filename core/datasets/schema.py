"""The role rules LLaMA-Factory applies to SFT items, silently skipping items that break them: here each break is named."""

from __future__ import annotations

from mathbench.core.datasets.items import Turn, detect_format, item_turns

USER_SIDE = ("human", "observation")
BOT_SIDE = ("gpt", "function_call")


def schema_errors(item: dict, fmt: str | None = None) -> list[str]:
    """Why LLaMA-Factory would skip *item* (empty when it would keep it); each reason names the turn."""
    own = detect_format(item)
    if own is None:
        return ["no 'conversations', 'messages' or alpaca 'instruction'/'output' field"]
    if fmt and own != fmt:
        return [f"item is in {own} format, the file is {fmt}"]
    if own == "alpaca":
        errs = []
        for key in ("instruction", "output"):
            if not isinstance(item.get(key), str) or not item.get(key):
                errs.append(f"'{key}' missing or not a non-empty string")
        hist = item.get("history")
        if hist is not None and (not isinstance(hist, list) or any(
                not (isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p)) for p in hist)):
            errs.append("'history' must be a list of [prompt, response] string pairs")
        return errs
    key = "conversations" if own == "sharegpt" else "messages"
    raw = item.get(key)
    if not isinstance(raw, list):
        return [f"'{key}' is a {type(raw).__name__}, expected a list"]
    errs: list[str] = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            errs.append(f"turn {i}: is a {type(t).__name__}, expected an object")
    if errs:
        return errs
    turns = item_turns(item, own)
    for i, t in enumerate(raw):
        ck = "value" if "value" in t or "from" in t else "content"
        if not isinstance(t.get(ck), str):
            errs.append(f"turn {i}: '{ck}' missing or not a string")
    start = 1 if turns and turns[0].role == "system" else 0
    body = turns[start:]
    if not body:
        errs.append("no turns (besides a system prompt)")
        return errs
    for i, t in enumerate(body, start):
        pos = i - start
        allowed = USER_SIDE if pos % 2 == 0 else BOT_SIDE
        if t.role not in allowed:
            where = "even" if pos % 2 == 0 else "odd"
            errs.append(f"turn {i}: role {t.role!r} at an {where} position (expected {' or '.join(allowed)})")
    if len(body) % 2:
        errs.append(f"odd number of turns ({len(body)}): SFT needs each human/observation turn answered")
    return errs


def empty_turn_warnings(turns: list[Turn]) -> list[str]:
    return [f"turn {i}: empty {t.role} turn" for i, t in enumerate(turns) if not t.content.strip()]
