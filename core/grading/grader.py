"""The grader's entry points: a full reply, or an extracted answer, against a reference, in any thread.

Plain numbers are settled exactly in pure Python; everything else goes to math-verify/sympy under a time
limit that works in any thread (a signal timer on the main thread, a killable worker process elsewhere).
"""

from __future__ import annotations

import threading

from mathbench.core.grading.pool import shared_pool
from mathbench.core.grading.rules import Grade, grade_here


def _run(kind: str, gold: str, pred: str, timeout: float) -> Grade:
    if threading.current_thread() is threading.main_thread():
        return grade_here(kind, gold, pred, timeout)
    return shared_pool().submit(kind, gold, pred, timeout).result()


def grade(gold: str, prediction: str, *, timeout: float = 5.0) -> Grade:
    """Grade a full model reply against a reference (bare answer, MATH solution, or GSM8K '####' answer)."""
    return _run("full", gold, prediction, timeout)


def grade_answer(gold_answer: str, pred_answer: str, *, timeout: float = 5.0) -> Grade:
    """Grade two already-extracted answers."""
    return _run("answer", gold_answer, pred_answer, timeout)
