"""The comparison rules: two answers, or two full texts, to a three-way verdict with its reason."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from fractions import Fraction

from mathbench.core.grading import normalize as nz
from mathbench.core.grading import symbolic as sym
from mathbench.core.grading.extraction import extract_answer, extract_gold, find_choice
from mathbench.core.grading.limits import Timeout, time_limit
from mathbench.core.records import Verdict

CORRECT, WRONG, UNCERTAIN = Verdict.CORRECT, Verdict.WRONG, Verdict.UNCERTAIN
MAX_TEXT = 20_000  # longer replies are cut to their tail: answers sit at the end, regexes stay fast


@dataclass
class Grade:
    """A verdict with its machine-readable reason and the two answers it compared."""

    verdict: Verdict
    reason: str
    gold_answer: str | None
    pred_answer: str | None
    rule: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("rule")
        d["verdict"] = str(self.verdict)
        return d


class NeedsSymbolic(Exception):
    """Raised by the fast pass when only sympy can settle the item."""


def _canon(s: str) -> str:
    s = re.sub(r"\s+|\\[,;:!]", "", s)
    s = s.replace("{}", "")
    return s


def _exactly_representable(v: Fraction, ulp: Fraction) -> bool:
    """Whether v is a whole multiple of ulp (e.g. 18 at 0.01): then its digits cannot be a rounding."""
    return (v / ulp).denominator == 1


def _float_vs_exact(v: Fraction, shown: nz.Number, gold_is_rational: bool) -> tuple[str, str]:
    """A printed float against an exact value: agreement to the digits it shows decides."""
    d = abs(shown.value - v)
    if d == 0:
        return CORRECT, "exact"
    rel = d / abs(v) if v else d
    if rel <= Fraction(1, 10**7):
        return CORRECT, "numeric-6sig"
    ulp = shown.ulp or Fraction(1)
    rounded = d <= ulp / 2 * Fraction(1_000_000_001, 1_000_000_000)
    truncated = (shown.value >= 0) == (v >= 0) and abs(shown.value) <= abs(v) and abs(v) - abs(shown.value) < ulp
    if (rounded or truncated) and shown.sig >= 6:
        return CORRECT, "numeric-6sig"
    if gold_is_rational and _exactly_representable(v, ulp):
        return WRONG, "not-equal"
    if rounded or truncated or rel <= Fraction(1, 1000):
        return UNCERTAIN, "float-close-not-equal"
    return WRONG, "not-equal"


def _compare_numbers(gn: nz.Number, pn: nz.Number) -> tuple[str, str]:
    """Two plain numbers, settled exactly (percent signs and printed precision considered)."""
    if gn.value == pn.value:
        return CORRECT, "exact"
    if gn.percent != pn.percent and (gn.value == pn.value * 100 or gn.value * 100 == pn.value):
        return UNCERTAIN, "percent-scale"
    if gn.is_exact and pn.is_exact:
        return WRONG, "not-equal"
    if gn.is_exact or (not pn.is_exact and pn.ulp >= gn.ulp):
        return _float_vs_exact(gn.value, pn, True)
    # the gold is a rounded decimal and the prediction shows more digits (or is exact)
    d = abs(gn.value - pn.value)
    if gn.value and d / abs(gn.value) <= Fraction(1, 10**7):
        return CORRECT, "numeric-6sig"
    if d <= gn.ulp / 2:
        return UNCERTAIN, "rounds-to-gold"
    return WRONG, "not-equal"


_CLOCK_RE = re.compile(r"^(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>[ap]\.?\s?m\.?)?$", re.IGNORECASE)


def _clock_hours(text: str) -> set[Fraction] | None:
    """'2:00 pm' -> {2, 14}: the hour values a time of day can stand for; None when text is no time."""
    m = _CLOCK_RE.match(nz.unwrap_text(text).strip())
    if not m or not (m.group("m") or m.group("ampm")):
        return None
    h = Fraction(int(m.group("h"))) + Fraction(int(m.group("m") or 0), 60)
    hours = {h}
    if m.group("ampm") and m.group("ampm").lower().startswith("p") and h < 12:
        hours.add(h + 12)
    return hours


def _words_equal(a: str, b: str) -> bool:
    a, b = a.rstrip("s"), b.rstrip("s")
    return a == b


def _compare(gold: str, pred: str, symbolic: bool) -> tuple[str, str]:
    """Verdict and reason for two extracted answers; raises NeedsSymbolic when sympy is needed but not allowed."""
    g, p = nz.clean(gold), nz.clean(pred)
    if not p:
        return WRONG, "no-answer-found"
    if not g:
        return UNCERTAIN, "no-gold"
    if g == p or _canon(g) == _canon(p):
        return CORRECT, "exact"
    if "=" in p and "=" not in g:
        rhs = nz.strip_assignments(p)
        if rhs != p:
            return _compare(g, rhs, symbolic)
    g_rhs, p_rhs = _function_rhs(g, p)
    if g_rhs is not None:
        return _compare(g_rhs, p_rhs, symbolic)
    if re.fullmatch(r"\[[^\[\]]*,[^\[\]]*\]", p) and not re.match(r"^[\[(].*[\])]$", g):
        return _compare(g, p[1:-1], symbolic)  # a printed Python list of solutions
    gl = nz.choice_letter(g)
    if gl:
        pl = nz.choice_letter(p)
        if pl:
            return (CORRECT, "choice") if pl == gl else (WRONG, "choice")
    gn, pn = nz.parse_number(g), nz.parse_number(p)
    if gn and pn:
        return _compare_numbers(gn, pn)
    if gn:
        clock = _clock_hours(p)
        if clock is not None:
            return (CORRECT, "time") if gn.value in clock else (WRONG, "not-equal")
    gb, pb = nz.base_digits(g), nz.base_digits(p)
    if gb and (pb or re.fullmatch(r"[0-9A-Za-z]+", p)):
        return (CORRECT, "exact") if (pb[0] if pb else p.upper()) == gb[0] and (not pb or pb[1] == gb[1]) else (WRONG, "not-equal")
    gw, pw = nz.plain_words(g), nz.plain_words(p)
    if gw and pw:
        return (CORRECT, "text") if _words_equal(gw, pw) else (WRONG, "text-mismatch")
    if gn and not re.search(r"\d", p) and not pw and not re.search(r"\\|[a-zA-Z]", p):
        return WRONG, "not-equal"
    if gn and gn.is_exact and gn.value.denominator == 1 and pw:
        return WRONG, "not-equal"  # an integer gold against a word answer
    if not symbolic:
        raise NeedsSymbolic()
    if pn and not pn.is_exact:
        # a printed float: judge by the digits it shows, not by math-verify's fixed rounding
        v = gn.value if gn else sym.real_value(sym.parse(g))
        if v is not None:
            return _float_vs_exact(v, pn, bool(gn) or sym.is_rational(sym.parse(g)))
    if gn and pn is None:
        # a plain-number gold (decimals read exactly, not as binary floats) against an expression
        pe = sym.same_symbols(sym.parse(p))
        v = sym.real_value(pe)
        if v is not None:
            tol = Fraction(1, 10**9) if sym.has_float(pe) else Fraction(1, 10**30)
            if v == gn.value or abs(v - gn.value) <= tol * max(1, abs(gn.value)):
                return CORRECT, "symbolic"
            if gn.ulp is not None and abs(v - gn.value) <= gn.ulp / 2:
                return UNCERTAIN, "rounds-to-gold"
            return WRONG, "not-equal"
    if re.search(r"\dj\b", p) and re.search(r"(?<![a-zA-Z\\])i\b", g):
        p = re.sub(r"(?<=\d)j\b", "i", p)  # Python prints the imaginary unit as j
    outcome, _ = sym.compare(g, p)
    if outcome == "equal":
        return CORRECT, "symbolic"
    if outcome == "close":
        return UNCERTAIN, "float-close-not-equal"
    if outcome == "too-large":
        return UNCERTAIN, "too-large"
    if outcome == "not-equal":
        return WRONG, "not-equal"
    if gw and not pw and not re.search(r"\d", p):
        return WRONG, "text-mismatch"
    return UNCERTAIN, "parse-failed"


_FUNC_EQ_RE = re.compile(r"^\s*(?P<name>[A-Za-z])\s*(?:\(\s*(?P<arg>[A-Za-z])\s*\))?\s*=(?P<rhs>[^=<>]+)$")


def _function_rhs(g: str, p: str) -> tuple[str | None, str | None]:
    """The right sides of 'f(x) = 2x+3' and 'y = 2x+3': one function written under two names (f(x) on one side)."""
    mg, mp = _FUNC_EQ_RE.match(g), _FUNC_EQ_RE.match(p)
    if not (mg and mp) or not (mg.group("arg") or mp.group("arg")):
        return None, None
    if len(nz.split_top_level(mg.group("rhs"))) > 1 or len(nz.split_top_level(mp.group("rhs"))) > 1:
        return None, None
    args = {m.group("arg") for m in (mg, mp) if m.group("arg")}
    bare = {m.group("name") for m in (mg, mp) if not m.group("arg")}
    if len(args) > 1 or args & bare:
        return None, None  # f(x) against f(t), or 'x = ...' against f(x): not the same function's value
    return mg.group("rhs").strip(), mp.group("rhs").strip()


def _grade_texts(gold: str, prediction: str, symbolic: bool) -> Grade:
    """Extract both answers from full texts and compare, settling several boxes and weak extractions."""
    gold_answer = extract_gold(_tail(gold))
    ext = extract_answer(_tail(prediction))
    if gold_answer is None:
        return Grade(UNCERTAIN, "no-gold", None, ext.answer, ext.rule)
    gl = nz.choice_letter(gold_answer)
    if ext.answer is None:
        letter = find_choice(prediction) if gl else None
        if letter:
            return Grade(CORRECT if letter == gl else WRONG, "choice", gold_answer, letter, "choice")
        return Grade(WRONG, "no-answer-found", gold_answer, None, ext.rule)
    verdict, reason = _compare(gold_answer, ext.answer, symbolic)
    if verdict != CORRECT and gl and not nz.choice_letter(ext.answer):
        letter = find_choice(prediction)
        if letter:
            return Grade(CORRECT if letter == gl else WRONG, "choice", gold_answer, letter, "choice")
    if verdict == WRONG and "####" in gold and _negated(gold_answer, ext.answer):
        # GSM8K golds are magnitudes; "-25" for "the difference between their scores" needs a reader
        return Grade(UNCERTAIN, "sign-differs", gold_answer, ext.answer, ext.rule)
    if verdict == WRONG and ext.rule == "boxed" and len(ext.candidates) > 1:
        for cand in ext.candidates:
            if cand != ext.answer and _compare(gold_answer, cand, symbolic)[0] == CORRECT:
                return Grade(UNCERTAIN, "several-candidates", gold_answer, ext.answer, ext.rule)
    if verdict == CORRECT and ext.rule in ("last-number", "last-math") and not _in_last_line(prediction, ext.answer):
        return Grade(UNCERTAIN, "last-number-only", gold_answer, ext.answer, ext.rule)
    return Grade(verdict, reason, gold_answer, ext.answer, ext.rule)


def _negated(gold_answer: str, pred_answer: str) -> bool:
    gn, pn = nz.parse_number(gold_answer), nz.parse_number(pred_answer)
    return bool(gn and pn and gn.value != 0 and pn.value == -gn.value)


def _tail(text: str | None) -> str:
    text = "" if text is None else str(text)
    return text[-MAX_TEXT:]


def _in_last_line(text: str, answer: str) -> bool:
    """Whether the answer sits in the reply's last line and the reply ends like a finished sentence."""
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    if not lines or answer not in lines[-1]:
        return False
    tail = re.sub(r"[\s$*\\)\]}]+$", "", lines[-1])
    return bool(re.search(r"[.。!！?？]$", tail)) or tail.endswith(answer) or bool(re.search(r"\d\s*\S{0,12}$", tail))


def _grade_pair(gold_answer: str, pred_answer: str, symbolic: bool) -> Grade:
    if gold_answer is None or not str(gold_answer).strip():
        return Grade(UNCERTAIN, "no-gold", gold_answer, pred_answer)
    if pred_answer is None or not str(pred_answer).strip():
        return Grade(WRONG, "no-answer-found", gold_answer, pred_answer)
    verdict, reason = _compare(str(gold_answer), str(pred_answer), symbolic)
    return Grade(verdict, reason, str(gold_answer), str(pred_answer))


def _timeout_grade(gold: str | None, pred: str | None, rule: str = "") -> Grade:
    return Grade(UNCERTAIN, "timeout", gold, pred, rule)


def fallback_grade(kind: str, gold: str, pred: str) -> Grade:
    """The grade of an item whose grading could not finish in time."""
    g = extract_gold(_tail(gold)) if kind == "full" else gold
    p = extract_answer(_tail(pred)).answer if kind == "full" else pred
    return _timeout_grade(g, p)


def fast_grade(kind: str, gold: str, pred: str) -> Grade:
    """The pure-Python pass over one item ('full' texts or an 'answer' pair); raises NeedsSymbolic."""
    return (_grade_texts if kind == "full" else _grade_pair)(gold, pred, False)


def grade_here(kind: str, gold: str, pred: str, timeout: float) -> Grade:
    """Grade one item in this thread: fast pass first, then the symbolic one under the time limit."""
    fn = _grade_texts if kind == "full" else _grade_pair
    try:
        return fn(gold, pred, False)
    except NeedsSymbolic:
        pass
    sym.warm_up()
    try:
        with time_limit(timeout):
            return fn(gold, pred, True)
    except Timeout:
        return fallback_grade(kind, gold, pred)
    except RecursionError:
        return Grade(UNCERTAIN, "parse-failed", gold if kind != "full" else None, pred if kind != "full" else None)
