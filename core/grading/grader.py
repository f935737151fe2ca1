"""The grader's entry points: a full reply, or an extracted answer, against a reference, in any thread.

Plain numbers are settled exactly in pure Python; everything else goes to math-verify/sympy. Every item is
graded within its deadline: under a signal timer on the main thread, in a killable worker process elsewhere.
"""

from __future__ import annotations

import threading
from typing import Any

from mathbench.core.grading.judge import grade_here
from mathbench.core.grading.pool import shared_pool
from mathbench.core.grading.rules import Grade


def _run(kind: str, gold: Any, pred: Any, timeout: float, extra: dict | None = None) -> Grade:
    if threading.current_thread() is threading.main_thread():
        return grade_here(kind, gold, pred, timeout, extra)
    return shared_pool().submit(kind, gold, pred, timeout, extra=extra).result()


def grade(gold: Any, prediction: Any, *, timeout: float = 5.0, choices: Any = None, question: str | None = None) -> Grade:
    """Grade a full model reply against a reference (bare answer, MATH solution, GSM8K '####' answer, or the
    gold letter of a choice item whose options are `choices`); `question` helps read unmarked replies."""
    extra = {k: v for k, v in (("choices", choices), ("question", question)) if v is not None} or None
    return _run("full", gold, prediction, timeout, extra)


def grade_answer(gold_answer: Any, pred_answer: Any, *, timeout: float = 5.0) -> Grade:
    """Grade two already-extracted answers."""
    return _run("answer", gold_answer, pred_answer, timeout)
