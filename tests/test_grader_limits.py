"""Every item is graded within its deadline, in the main thread, in other threads and across processes; an
item the grader cannot finish is uncertain 'too-large', never a hang or a lost batch."""

from __future__ import annotations

import threading
import time

import pytest

from mathbench.core.grading import grade, grade_answer, grade_many

SLOW = ("\\sin(x+y+z)^{80}", "\\sin(x+y+z+1)^{80}")  # sympy works on this for over a minute
SLOW_REPLY = ("$\\sin(x+y+z)^{80}$", "so it is \\boxed{\\sin(x+y+z+1)^{80}}")


def test_slow_comparison_times_out_in_main_thread():
    start = time.monotonic()
    g = grade_answer(*SLOW, timeout=1.0)
    assert (g.verdict, g.reason) == ("uncertain", "too-large")
    assert time.monotonic() - start < 30
    # the interpreter is still sound afterwards
    assert grade_answer("\\frac{1}{2}", "0.5").verdict == "correct"


def test_huge_power_is_refused_not_evaluated():
    g = grade_answer("9^{9^{9}}", "5", timeout=1.0)
    assert (g.verdict, g.reason) == ("uncertain", "too-large")


def test_grading_from_worker_threads():
    out = {}

    def work(key, gold, pred):
        out[key] = grade(gold, pred, timeout=3.0)

    threads = [
        threading.Thread(target=work, args=("sym", "$\\frac{\\sqrt{3}}{3}$", "\\boxed{\\frac{1}{\\sqrt{3}}}")),
        threading.Thread(target=work, args=("num", "#### 1,080", "\\boxed{1080}")),
        threading.Thread(target=work, args=("slow", *SLOW_REPLY)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert out["sym"].verdict == "correct" and out["sym"].reason == "symbolic"
    assert out["num"].verdict == "correct"
    assert out["slow"].reason == "too-large"


def test_grade_many_keeps_order_and_survives_a_hung_item():
    pairs = [
        ("$x^2+2x+1$", "\\boxed{(x+1)^2}"),
        SLOW_REPLY,
        ("#### 18", "\\boxed{18.0}"),
        ("$\\frac{1}{3}$", "\\boxed{0.3333333333}"),
        ("$(1,2)$", "\\boxed{(2,1)}"),
        ("$9^{9^{9}}$", "\\boxed{5}"),
        ("$\\sqrt{8}$", "\\boxed{2\\sqrt{2}}"),
        ("$y=2x+3$", "\\boxed{2x+3}"),
    ] * 3  # enough symbolic items to go to worker processes
    seen = []
    grades = grade_many(pairs, workers=2, timeout=3.0, on_progress=lambda done, total: seen.append((done, total)))
    expected = [
        ("correct", "symbolic"), ("uncertain", "too-large"), ("correct", "exact"), ("correct", "numeric-6sig"),
        ("wrong", "not-equal"), ("uncertain", "too-large"), ("correct", "symbolic"), ("correct", "symbolic"),
    ] * 3
    got = [(g.verdict, g.reason) for g in grades]
    for i, (have, want) in enumerate(zip(got, expected)):
        assert have == want, (i, have)
    assert seen[-1] == (24, 24) and len(seen) == 24


def test_a_timeout_inside_a_finalizer_is_not_reported_and_the_next_one_stops_the_work(monkeypatch):
    import gc
    import sys

    from mathbench.core.grading.limits import Timeout, time_limit

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    class SlowToDie:
        def __del__(self):
            end = time.monotonic() + 0.3
            while time.monotonic() < end:  # the alarm fires in here: Python can only report it
                pass

    start = time.monotonic()
    with pytest.raises(Timeout):
        with time_limit(0.05):
            SlowToDie()
            gc.collect()
            while time.monotonic() - start < 5:
                pass
    assert time.monotonic() - start < 2 and reported == []
    assert sys.unraisablehook == reported.append  # put back
