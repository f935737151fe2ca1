"""Property tests: an answer is equal to itself in any of its printed forms, and not to a different value."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from mathbench.core.grading import grade, grade_answer

INTS = st.integers(min_value=-10**9, max_value=10**9)


def _printed_integer_forms(n: int) -> list[str]:
    forms = [str(n), f"{n:,}", f"{n}.0", f"{n}.00", f"{n} dollars", f"{n}美元", f"\\text{{{n}}}", f"x = {n}", f"{{{n}}}"]
    if n >= 0:
        forms += [f"\\${n:,}", f"${n}"]
    return forms


@settings(max_examples=150, deadline=None)
@given(INTS)
def test_integer_equals_its_printed_forms(n):
    for form in _printed_integer_forms(n):
        g = grade(f"#### {n}", f"因此，答案是 \\(\\boxed{{{form}}}\\)。")
        assert g.verdict == "correct", (form, g)


@settings(max_examples=150, deadline=None)
@given(INTS, st.integers(min_value=1, max_value=10**6))
def test_integer_differs_from_other_integers(n, delta):
    g = grade_answer(str(n), str(n + delta))
    assert g.verdict == "wrong", g


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=-1000, max_value=1000), st.integers(min_value=1, max_value=1000))
def test_fraction_equals_the_floats_code_prints(p, q):
    value = Fraction(p, q)
    gold = f"\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"
    gold = ("-" if value < 0 else "") + gold
    for printed in (repr(p / q), f"{p / q:.10f}", str(float(value))):
        g = grade_answer(gold, printed)
        assert g.verdict == "correct", (gold, printed, g)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=2, max_value=30), st.sampled_from([2, 3, 5, 6, 7, 10]))
def test_radical_equals_its_other_forms(k, m):
    gold = f"{k}\\sqrt{{{m}}}"
    assert grade_answer(gold, f"\\sqrt{{{k * k * m}}}").verdict == "correct"
    assert grade_answer(gold, repr(k * m ** 0.5)).verdict == "correct"
    assert grade_answer(gold, f"{k + 1}\\sqrt{{{m}}}").verdict == "wrong"
