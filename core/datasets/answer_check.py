"""An item's final answer checked against what its code printed: consistent, inconsistent or unknown."""

from __future__ import annotations

import re

_CAND_NUM = re.compile(r"[-+]?\d+(?:\.\d+)?/\d+(?:\.\d+)?|[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_CHOICE = re.compile(r"^\s*[\(（]?([A-E])[\)）]?(?:[.．、:：]|\s)\s*(?P<rest>.+)$", re.DOTALL)


def _answer_candidates(stdout: str) -> list[str]:
    """What in the output could be the answer: the last line, its part after ':' / '=', the last numbers."""
    lines = [ln.strip() for ln in stdout.strip().splitlines() if ln.strip()]
    cands: list[str] = []
    if lines:
        last = lines[-1]
        cands.append(last)
        for sep in (":", "：", "=", "是", "为"):
            if sep in last:
                cands.append(last.rsplit(sep, 1)[1].strip())
    cands.extend(reversed(_CAND_NUM.findall(stdout)[-8:]))
    seen, out = set(), []
    for c in cands:
        if c and c not in seen:
            seen.add(c)
            out.append(c)
    return out


def _same_number(ans, out) -> str | None:
    """How the answer number *ans* agrees with an output number *out* (both grading.normalize.Number), or None."""
    targets = [(ans.value, "")]
    if ans.percent:
        targets.append((ans.value / 100, " (as a fraction)"))
    for value, note in targets:
        if value == out.value:
            return "equal" + note
        if abs(float(value) - float(out.value)) <= 1e-6 * max(1.0, abs(float(value))):
            return "equal within 1e-6" + note
        if ans.ulp is not None and abs(value - out.value) <= ans.ulp / 2 * (1 + 1e-9):
            return f"rounded to {ans.ulp}" + note
        if ans.ulp is None and value.denominator == 1 and out.value.denominator != 1 and abs(value - out.value) < 0.5:
            return "rounded to an integer" + note
    return None


_UNSHOWN = "a non-numeric answer the output does not show verbatim"


def answer_fast(final_text: str, stdout: str) -> tuple[str | None, str, str, str, tuple[str, str] | None]:
    """check_answer without the symbolic step: (answer, rule, status, reason, (answer, candidate) still to
    compare symbolically or None)."""
    from mathbench.core.grading import extract_answer, parse_number

    ext = extract_answer(final_text)
    if not ext.answer:
        return None, ext.rule, "unknown", "no final answer found", None
    if not stdout.strip():
        return ext.answer, ext.rule, "unknown", "the code printed nothing", None
    ans = ext.answer.strip()
    m = _CHOICE.match(ans)
    if m:
        ans = m.group("rest").strip()
    elif re.fullmatch(r"[\(（]?[A-E][\)）]?", ans):
        return ext.answer, ext.rule, "unknown", "a multiple-choice letter", None
    cands = _answer_candidates(stdout)
    num = parse_number(ans)
    if num is not None:
        out_nums = [(c, n) for c in cands if (n := parse_number(c)) is not None]
        for c, n in out_nums:
            how = _same_number(num, n)
            if how:
                return ext.answer, ext.rule, "consistent", f"output shows {c} ({how})", None
        if not out_nums:
            return ext.answer, ext.rule, "unknown", "no number in the output to compare with", None
        if out_nums[0][1].value == -num.value:
            return ext.answer, ext.rule, "inconsistent", f"sign differs: the output shows {out_nums[0][0]}", None
        last_line = stdout.strip().splitlines()[-1].strip()
        return ext.answer, ext.rule, "inconsistent", f"answer {ans} but the output ends {last_line[-80:]!r}", None
    # Symbolic comparison is slow (~0.1 s a call): only the output's final value, and only when it looks like math.
    math_like = [c for c in cands[:2] if re.search(r"[\d\\^()\[\]{}]", c)][-1:]
    return ext.answer, ext.rule, "unknown", _UNSHOWN, ((ans, math_like[0]) if math_like else None)


def symbolic_verdict(pair: tuple[str, str], grade) -> tuple[str, str] | None:
    """(status, reason) from a grader verdict on (answer, candidate); None leaves the answer unknown."""
    if grade is not None and grade.verdict == "correct":
        return "consistent", f"output shows {pair[1]} ({grade.reason})"
    return None


def check_answer(final_text: str, stdout: str) -> tuple[str | None, str, str, str]:
    """The final reply's answer against the executed output -> (answer, rule, status, reason).

    A numeric answer is consistent when an output number equals it (or rounds to it at the answer's
    precision) and inconsistent when the output shows numbers but none agrees; other answers are
    compared with the output's final value by core.grading (symbolically); anything the two cannot be
    compared on (choice letters, intervals, words) stays unknown rather than a false alarm.
    """
    from mathbench.core.grading import shared_pool

    answer, rule, status, reason, pair = answer_fast(final_text, stdout)
    if pair is not None:
        try:
            grade = shared_pool().submit("answer", *pair, timeout=2.0).result()
        except Exception:  # noqa: BLE001 - a grader failure leaves the answer unknown, not the run
            grade = None
        verdict = symbolic_verdict(pair, grade)
        if verdict:
            status, reason = verdict
    return answer, rule, status, reason
