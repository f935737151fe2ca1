"""What a code block printed compared with the output an item recorded after it."""

from __future__ import annotations

import math
import re

# A language tag counts only when the fence line holds nothing else: "```Preston got 5```" is all output.
_FENCE = re.compile(r"```(?:[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n)?(.*?)```", re.DOTALL)
_NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def recorded_output(text: str) -> str:
    """The output an observation turn records: the fenced part(s), else the whole text."""
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() not in ("python", "py", "python3")]
    if blocks:
        return "\n".join(b.strip("\n") for b in blocks)
    return text.strip()


def _ws(text: str) -> str:
    return "\n".join(" ".join(ln.split()) for ln in text.replace("\r\n", "\n").split("\n") if ln.strip())


def _close(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return False
    return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))


def _rounds_to(full: str, shown: str) -> bool:
    """True when *shown* is *full* rounded (or cut) to the decimals *shown* has."""
    if "." not in shown or "e" in shown.lower():
        return False
    try:
        x, y = float(full), float(shown)
    except ValueError:
        return False
    step = 10.0 ** -len(shown.split(".")[1])
    return abs(x - y) <= step * (1 + 1e-9)


def compare_outputs(actual: str, recorded: str) -> tuple[bool, str]:
    """Does the executed *actual* stdout reproduce the *recorded* output? -> (same, how/why).

    Same when equal exactly, up to whitespace, or with every number within 1e-6 relative (3150 vs
    3150.0 prints the same value); otherwise the reason says what differs.
    """
    if actual.strip() == recorded.strip():
        return True, "exact"
    a, r = _ws(actual), _ws(recorded)
    if a == r:
        return True, "whitespace"
    if " ".join(a.split()) == " ".join(r.split()):
        return True, "line breaks"
    a_nums, r_nums = _NUM.findall(a), _NUM.findall(r)
    if _NUM.sub("#", a) == _NUM.sub("#", r) and len(a_nums) == len(r_nums) and all(
            x == y or _close(x, y) for x, y in zip(a_nums, r_nums)):
        return True, "numeric"
    if _NUM.sub("#", a) == _NUM.sub("#", r) and len(a_nums) == len(r_nums) and all(
            x == y or _rounds_to(x, y) for x, y in zip(a_nums, r_nums)):
        return False, "the recorded numbers are the printed ones rounded"
    if _NUM.sub("#", a) == _NUM.sub("#", r) and len(a_nums) == len(r_nums):
        x, y = next((x, y) for x, y in zip(a_nums, r_nums) if not (x == y or _close(x, y)))
        return False, f"different numbers: printed {x}, recorded {y}"
    if not a:
        return False, "the code printed nothing"
    if not r:
        return False, "the recorded output is empty"
    if r in a:
        return False, "recorded output is only part of what the code prints"
    if a_nums and r_nums and not set(r_nums) & set(a_nums) and not any(_close(x, y) for x in r_nums for y in a_nums):
        return False, "different numbers"
    return False, "different text"
