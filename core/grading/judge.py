"""One item judged in this process: answers extracted from full texts, compared, choice items settled, all
under the item's deadline, so that whatever the input the item ends in a verdict."""

from __future__ import annotations

import re
import time
from typing import Any

from mathbench.core.grading import choices as mc
from mathbench.core.grading import normalize as nz
from mathbench.core.grading import symbolic as sym
from mathbench.core.grading.extraction import distinct_values, numbers_in, extract_answer, extract_gold
from mathbench.core.grading.limits import MAX_TEXT, Timeout, TooLarge, time_limit
from mathbench.core.grading.rules import CORRECT, UNCERTAIN, WRONG, Grade, NeedsSymbolic, compare

UNMARKED = ("conclusion", "chinese-conclusion", "last-number", "last-math")
MARKED = ("boxed", "gsm8k-hash", "answer-is")
_TOO_LARGE = (TooLarge, Timeout, RecursionError, MemoryError, OverflowError)


def _tail(text: Any) -> str:
    text = "" if text is None else str(text)
    return text[-MAX_TEXT:]


def _in_last_line(text: str, answer: str) -> bool:
    """Whether the answer sits in the reply's last line and the reply ends like a finished sentence."""
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    if not lines or answer not in lines[-1]:
        return False
    tail = re.sub(r"[\s$*\\)\]}]+$", "", lines[-1])
    return bool(re.search(r"[.。!！?？।]$", tail)) or tail.endswith(answer) or bool(re.search(r"\d\s*\S{0,12}$", tail))


def _negated(gold_answer: str, pred_answer: str) -> bool:
    gn, pn = nz.parse_number(gold_answer), nz.parse_number(pred_answer)
    return bool(gn and pn and gn.value != 0 and pn.value == -gn.value)


def _grade_choice(gold: Any, prediction: str, options: dict[str, str], symbolic: bool) -> Grade | None:
    """A multiple-choice item: the letter the reply names, or the option its answer equals; None when the gold
    names no option (then the item is graded as a plain answer)."""
    gl = mc.gold_letter(gold, options) or mc.gold_letter(extract_gold(_tail(gold)), options)
    if gl is None:
        return None
    letters = mc.named_letters(prediction, options)
    if len(letters) > 1:
        return Grade(UNCERTAIN, "several-choices", gl, ", ".join(letters), "choice")
    if letters:
        return Grade(CORRECT if letters[0] == gl else WRONG, "choice", gl, letters[0], "choice")
    ext = extract_answer(_tail(prediction))
    if ext.answer is None:
        return Grade(WRONG, "no-answer-found", gl, None, ext.rule)
    hits = mc.option_matches(ext.answer, options, lambda opt, ans: compare(opt, ans, symbolic)[0] == CORRECT)
    if hits == [gl]:
        return Grade(CORRECT, "choice-text", gl, ext.answer, ext.rule)
    if gl in hits:
        return Grade(UNCERTAIN, "several-choices", gl, ext.answer, ext.rule)
    return Grade(WRONG, "choice-text" if hits else "not-an-option", gl, ext.answer, ext.rule)


def _unmarked(gold_answer: str, values: list[str], question: str | None, symbolic: bool) -> tuple[str, str | None]:
    """An unmarked final sentence with several numbers: ('decide', the answer) when the question's own numbers
    leave one, else ('uncertain'|'wrong', None) by whether the gold is among them."""
    if question:
        given = set(distinct_values(numbers_in(str(question))))
        new = [v for v in values if v not in given]
        if len(new) == 1:
            return "decide", new[0]
    verdicts = [compare(gold_answer, v, symbolic)[0] for v in values]
    return ("wrong", None) if all(v == WRONG for v in verdicts) else ("uncertain", None)


def grade_texts(gold: Any, prediction: Any, symbolic: bool, choices: Any = None, question: str | None = None) -> Grade:
    """Extract both answers from full texts and compare, settling several boxes, weak extractions and choices."""
    cut = len(str(prediction or "")) > MAX_TEXT  # only the tail was read: an answer no marker names is no answer
    prediction = _tail(prediction)
    options = mc.normalize_choices(choices)
    if options:
        found = _grade_choice(gold, prediction, options, symbolic)
        if found is not None:
            return found
    gold_answer = extract_gold(_tail(gold))
    ext = extract_answer(prediction)
    if gold_answer is None:
        return Grade(UNCERTAIN, "no-gold", None, ext.answer, ext.rule)
    gl = nz.choice_letter(gold_answer)
    if gl and not (ext.answer and nz.choice_letter(ext.answer)):
        letters = mc.named_letters(prediction)
        if len(letters) > 1:
            return Grade(UNCERTAIN, "several-choices", gold_answer, ", ".join(letters), "choice")
        if letters:
            return Grade(CORRECT if letters[0] == gl else WRONG, "choice", gold_answer, letters[0], "choice")
    if cut and ext.rule not in MARKED:
        return Grade(UNCERTAIN, "too-large", gold_answer, ext.answer, ext.rule)
    if ext.answer is None:
        return Grade(WRONG, "no-answer-found", gold_answer, None, ext.rule)
    answer = ext.answer
    if ext.rule in UNMARKED and len(ext.sentence_values) > 1:
        how, picked = _unmarked(gold_answer, ext.sentence_values, question, symbolic)
        if how == "uncertain":
            far = ext.rule in ("last-number", "last-math") and not ext.at_end and not _in_last_line(prediction, answer)
            return Grade(UNCERTAIN, "last-number-only" if far else "unmarked-answer", gold_answer, answer, ext.rule)
        if how == "wrong":
            return Grade(WRONG, "not-equal", gold_answer, answer, ext.rule)
        answer = picked or answer
    verdict, reason = compare(gold_answer, answer, symbolic)
    if verdict == WRONG and "####" in str(gold) and _negated(gold_answer, answer):
        # GSM8K golds are magnitudes; "-25" for "the difference between their scores" needs a reader
        return Grade(UNCERTAIN, "sign-differs", gold_answer, answer, ext.rule)
    if verdict == WRONG and ext.rule == "boxed" and len(ext.candidates) > 1:
        for cand in ext.candidates:
            if cand != answer and compare(gold_answer, cand, symbolic)[0] == CORRECT:
                return Grade(UNCERTAIN, "several-candidates", gold_answer, answer, ext.rule)
    if verdict == CORRECT and ext.rule in ("last-number", "last-math") and not ext.at_end \
            and not _in_last_line(prediction, answer):
        return Grade(UNCERTAIN, "last-number-only", gold_answer, answer, ext.rule)
    return Grade(verdict, reason, gold_answer, answer, ext.rule)


def grade_pair(gold_answer: Any, pred_answer: Any, symbolic: bool) -> Grade:
    """Two already-extracted answers."""
    if gold_answer is None or not str(gold_answer).strip():
        return Grade(UNCERTAIN, "no-gold", gold_answer, pred_answer)
    if pred_answer is None or not str(pred_answer).strip():
        return Grade(WRONG, "no-answer-found", gold_answer, pred_answer)
    gold_answer, pred_answer = _tail(gold_answer), _tail(pred_answer)
    verdict, reason = compare(gold_answer, pred_answer, symbolic)
    return Grade(verdict, reason, gold_answer, pred_answer)


def unfinished(kind: str, gold: Any, pred: Any, reason: str = "too-large") -> Grade:
    """The grade of an item the grader could not finish (nothing is re-read: that may be what failed)."""
    if kind == "full":
        return Grade(UNCERTAIN, reason, None, None)
    return Grade(UNCERTAIN, reason, str(gold)[:200] if gold is not None else None,
                 str(pred)[:200] if pred is not None else None)


def _attempt(kind: str, gold: Any, pred: Any, symbolic: bool, seconds: float, extra: dict | None) -> Grade:
    """One pass under a time limit (on the main thread); every failure becomes an uncertain grade."""
    try:
        with time_limit(seconds):
            if kind == "full":
                return grade_texts(gold, pred, symbolic, **(extra or {}))
            return grade_pair(gold, pred, symbolic)
    except NeedsSymbolic:
        raise
    except _TOO_LARGE:
        return unfinished(kind, gold, pred)
    except ValueError as exc:
        # int() of more than 4,300 digits, deep inside a library
        return unfinished(kind, gold, pred, "too-large" if "digits" in str(exc) else "grader-error")
    except Exception:  # noqa: BLE001 - one bad item never sinks a batch
        return unfinished(kind, gold, pred, "grader-error")


def fast_grade(kind: str, gold: Any, pred: Any, timeout: float = 5.0, extra: dict | None = None) -> Grade:
    """The pure-Python pass over one item ('full' texts or an 'answer' pair); raises NeedsSymbolic."""
    return _attempt(kind, gold, pred, False, timeout, extra)


def grade_here(kind: str, gold: Any, pred: Any, timeout: float, extra: dict | None = None) -> Grade:
    """Grade one item in this thread: the fast pass, then the symbolic one, both within `timeout` seconds."""
    start = time.monotonic()
    try:
        return _attempt(kind, gold, pred, False, timeout, extra)
    except NeedsSymbolic:
        pass
    left = timeout - (time.monotonic() - start)
    sym.warm_up()  # imports, once, outside any timer (an alarm mid-import breaks sympy) and off the item's clock
    if left <= 0:
        return unfinished(kind, gold, pred)
    try:
        return _attempt(kind, gold, pred, True, left, extra)
    except NeedsSymbolic:  # pragma: no cover - the symbolic pass never asks for itself
        return unfinished(kind, gold, pred, "grader-error")
