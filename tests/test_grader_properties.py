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


# ------------------------------------------------------------------ one value, every rendering, one verdict

DENOMINATORS = st.sampled_from([1, 2, 4, 5, 8, 10, 20, 25, 40])  # values whose decimals terminate


def _forms(v: Fraction) -> list[str]:
    """The ways an answer of value v is written: fraction, decimal, integer."""
    sign = "-" if v < 0 else ""
    a = abs(v)
    out = [sign + _decimal(a)]
    if a.denominator == 1:
        out.append(f"{v.numerator:,}")
    else:
        out += [f"{sign}\\frac{{{a.numerator}}}{{{a.denominator}}}", f"{sign}{a.numerator}/{a.denominator}"]
    return out


def _decimal(a: Fraction) -> str:
    whole, rest = divmod(a.numerator * 10**6 // a.denominator, 10**6)
    return str(whole) if not rest else f"{whole}.{rest:06d}".rstrip("0")


def _replies(v: Fraction) -> list[str]:
    """Every rendering of a reply whose answer is v: bare, with units, boxed, in an unboxed final sentence."""
    replies = []
    for f in _forms(v):
        math = f"${f}$" if "\\" in f else f
        replies += [
            f,  # the reply is only the answer
            f"\\boxed{{{f}}}",
            f"We work it out step by step.\nSo the answer is {math}.",
            f"先列式计算。\n因此，答案是 \\(\\boxed{{{f}}}\\) 米。",
            f"因此，答案是{f}。",
            f"{math} meters",
            f"Therefore, the length is {math} meters.",
            f"The code printed {f}, so the final answer is \\boxed{{{f} \\text{{ cm}}}}.",
        ]
    return replies


def _references(v: Fraction) -> list[str]:
    refs = [f"The answer is $\\boxed{{{f}}}$." for f in _forms(v) if "/" not in f] + _forms(v)
    if v.denominator == 1:
        refs.append(f"She has {v} in all.\n#### {v}")
    return refs


VALUES = st.builds(lambda n, d: Fraction(n, d), st.integers(min_value=-5000, max_value=5000), DENOMINATORS)


@settings(max_examples=40, deadline=None)
@given(VALUES, st.integers(min_value=0, max_value=10**6))
def test_every_rendering_of_a_value_gets_the_same_verdict(v, pick):
    refs = _references(v)
    ref = refs[pick % len(refs)]
    verdicts = {r: grade(ref, r).verdict for r in _replies(v)}
    assert set(verdicts.values()) == {"correct"}, (ref, {r: x for r, x in verdicts.items() if x != "correct"})


@settings(max_examples=40, deadline=None)
@given(VALUES, VALUES, st.integers(min_value=0, max_value=10**6))
def test_every_rendering_of_another_value_is_wrong(v, w, pick):
    if v == w:
        w = v + 1
    refs = _references(v)
    ref = refs[pick % len(refs)]
    verdicts = {r: grade(ref, r).verdict for r in _replies(w)}
    assert set(verdicts.values()) == {"wrong"}, (ref, {r: x for r, x in verdicts.items() if x != "wrong"})


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=99), st.integers(min_value=1, max_value=99))
def test_every_rendering_of_a_percent_gets_the_same_verdict(p, q):
    replies = lambda n: [f"{n}%", f"{n}\\%", f"{n} percent", f"${n}$ %", f"${n}\\%$", f"\\boxed{{{n}\\%}}",
                         f"So the rate is {n}%.", f"因此，增长率是{n}%。", f"The answer is ${n}$ percent."]
    assert {grade(f"${p}\\%$", r).verdict for r in replies(p)} == {"correct"}
    if q != p:
        assert {grade(f"${p}\\%$", r).verdict for r in replies(q)} == {"wrong"}
