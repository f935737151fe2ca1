"""Three-way grading (correct | wrong | uncertain, with a reason) of model answers against references.

Plain numbers are settled exactly in pure Python; everything else goes to math-verify/sympy under a
time limit that works in any thread (a signal timer on the main thread, a killable helper process elsewhere).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from fractions import Fraction

from mathbench.core.grading import normalize as nz
from mathbench.core.grading.extraction import extract_answer, extract_gold, find_choice

CORRECT, WRONG, UNCERTAIN = "correct", "wrong", "uncertain"
MAX_TEXT = 20_000  # longer replies are cut to their tail: answers sit at the end, regexes stay fast


@dataclass
class Grade:
    """A verdict with its machine-readable reason and the two answers it compared."""

    verdict: str
    reason: str
    gold_answer: str | None
    pred_answer: str | None
    rule: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("rule")
        return d


class _NeedsSymbolic(Exception):
    """Raised by the fast pass when only sympy can settle the item."""


class _Timeout(BaseException):
    """A symbolic comparison ran past its time limit (a BaseException, so library `except Exception` lets it by)."""


# ---------------------------------------------------------------- time limits


class _time_limit:
    """Raise _Timeout in the main thread after `seconds` (a real-time interval timer); elsewhere a no-op."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.active = bool(seconds) and threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.active:
            self.old = signal.signal(signal.SIGALRM, self._fire)
            # re-fires every 50 ms in case a bare `except:` inside sympy swallowed the first one
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.05)
        return self

    @staticmethod
    def _fire(signum, frame):
        raise _Timeout()

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
        return False


# ---------------------------------------------------------------- symbolic layer (math-verify + sympy)

_MV_LOGGERS_QUIET = False


def _mv():
    """math_verify's parse/verify and its LaTeX config, imported lazily (heavy) with its warnings silenced."""
    global _MV_LOGGERS_QUIET
    from math_verify import LatexExtractionConfig, parse, verify

    if not _MV_LOGGERS_QUIET:
        for name in ("math_verify", "math_verify.parser", "math_verify.grader", "latex2sympy2_extended"):
            logging.getLogger(name).setLevel(logging.ERROR)
        _MV_LOGGERS_QUIET = True
    return parse, verify, LatexExtractionConfig


_WARM = False
_WARM_PAIRS = [("x^2+2x+1", "(x+1)^2"), ("[1, 2)", "x \\in [1,2)"), ("y=2x+1", "2x+1"), ("\\sqrt{3}", "sqrt(3)")]


def _warm_up() -> None:
    """Run sympy's and math-verify's lazy imports once with no timer armed (an alarm mid-import breaks sympy)."""
    global _WARM
    if _WARM:
        return
    import sympy

    exec("from sympy import *", {})  # noqa: S102 - sympy's own parse_expr does this lazily
    sympy.simplify(sympy.sympify("(x+1)**2 - x**2 - 2*x - 1"))
    _, verify, _ = _mv()
    for a, b in _WARM_PAIRS:
        ga, gb = _parse(a), _parse(b)
        if ga is not None and gb is not None:
            verify(ga, gb, timeout_seconds=None)
    _WARM = True


_PYTHONIC = re.compile(r"\*\*|\*|\b(?:sqrt|exp|log|Matrix|Rational|Interval|Union|Eq|oo|pi|I|E|sin|cos|tan|sec|csc|cot)\b")
_PY_NAMES = {"sqrt", "exp", "log", "Matrix", "Rational", "Interval", "oo", "pi", "I", "E", "sin", "cos", "tan",
             "asin", "acos", "atan", "sec", "csc", "cot", "Abs", "FiniteSet", "Union", "factorial", "binomial", "cbrt", "root", "Eq",
             "Interval_open", "Interval_Lopen", "Interval_Ropen"}


def _parse_python(text: str):
    """A sympy object for an answer printed by Python/sympy ('sqrt(2)/2', 'x**2 + 1', 'oo'), or None.

    parse_expr evaluates its input, so only arithmetic, brackets, known sympy names and short symbols get through.
    """
    text = re.sub(r"\bInterval\.(open|Lopen|Ropen)\b", r"Interval_\1", text)
    if "\\" in text or "__" in text or re.search(r"[^\w\s+\-*/^().,\[\]]", text) or re.search(r"\.[A-Za-z_]", text):
        return None
    names = set(re.findall(r"[A-Za-z_]\w*", text))
    if any(n not in _PY_NAMES and not re.fullmatch(r"[A-Za-z]\d*", n) for n in names):
        return None
    import sympy
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    local = {n: getattr(sympy, n) for n in _PY_NAMES if n in names and hasattr(sympy, n)}
    local.update({"Interval_open": sympy.Interval.open, "Interval_Lopen": sympy.Interval.Lopen,
                  "Interval_Ropen": sympy.Interval.Ropen})
    local.update({"I": sympy.I, "E": sympy.E, "oo": sympy.oo, "pi": sympy.pi})
    try:
        expr = parse_expr(text, local_dict=local, transformations=standard_transformations + (convert_xor,))
    except (SyntaxError, TypeError, ValueError, AttributeError, NameError, ZeroDivisionError, TokenError):
        return None
    if isinstance(expr, (list, tuple, set)):
        return sympy.FiniteSet(*expr) if isinstance(expr, set) else sympy.Tuple(*expr)
    return expr


try:  # the tokenizer error parse_expr raises on unbalanced input
    from tokenize import TokenError
except ImportError:  # pragma: no cover
    TokenError = SyntaxError


def _parse(text: str):
    """A sympy object for one answer, as LaTeX or as printed Python, or None."""
    if _PYTHONIC.search(text) and "\\" not in text:
        expr = _parse_python(text)
        if expr is not None:
            return expr
    return _parse_latex(text)


@functools.lru_cache(maxsize=512)
def _parse_latex(latex: str):
    """A sympy object for one answer (wrapped in $..$ so math-verify reads it as LaTeX), or None."""
    parse, _, config = _mv()
    out = parse(f"${latex}$", extraction_config=[config(boxed_match_priority=0)], parsing_timeout=None)
    if out and not isinstance(out[0], str):
        return out[0]
    return None


def _too_big(expr) -> bool:
    """Whether evaluating expr could run unbounded in C (huge powers or factorials), where no timer can stop it."""
    try:
        from sympy import Pow, factorial, preorder_traversal

        for node in preorder_traversal(expr):
            if isinstance(node, Pow) and node.exp.is_number and node.base.is_number:
                e = abs(complex(node.exp.evalf(15)))
                if e > 10_000 and abs(complex(node.base.evalf(15))) not in (0.0, 1.0):
                    return True
            if isinstance(node, factorial) and node.args[0].is_number and abs(complex(node.args[0].evalf(15))) > 5_000:
                return True
    except (TypeError, ValueError, AttributeError, OverflowError):
        return True
    return False


_VECTOR_RE = re.compile(r"^\\begin\{[pb]matrix\}(?P<body>.*)\\end\{[pb]matrix\}$", re.DOTALL)


def _vector_as_tuple(s: str) -> str:
    """A one-column or one-row pmatrix written as a tuple '(a, b, c)'; other text unchanged."""
    m = _VECTOR_RE.match(s.strip())
    if not m:
        return s
    body = m.group("body").strip()
    rows = [r.strip() for r in re.split(r"\\\\", body) if r.strip()]
    if len(rows) > 1 and all("&" not in r for r in rows):
        return "(" + ", ".join(rows) + ")"
    if len(rows) == 1 and "&" in rows[0]:
        return "(" + ", ".join(c.strip() for c in rows[0].split("&")) + ")"
    return s


def _symbolic(gold: str, pred: str) -> tuple[str, object]:
    """('equal'|'not-equal'|'parse-failed'|'too-large', gold value or None) from math-verify."""
    g_t, p_t = _vector_as_tuple(gold), _vector_as_tuple(pred)
    if g_t != gold and p_t == pred and pred.lstrip().startswith("("):
        gold = g_t  # a column vector against a tuple: compare both as tuples
    elif p_t != pred and g_t == gold and gold.lstrip().startswith("("):
        pred = p_t
    _, verify, _ = _mv()
    g = _same_symbols(_parse(gold))
    p = _same_symbols(_parse(pred))
    if g is None or p is None:
        return "parse-failed", g
    if _too_big(g) or _too_big(p):
        return "too-large", None
    if _is_equation(g) != _is_equation(p) and not _names_a_value(g if _is_equation(g) else p):
        return "not-equal", g  # '10x - 4y - 5z - 20 = 0' is no answer to a question whose answer is 0
    if "%" not in gold + pred:
        # two real constants: 40 digits settle it, without sympy's slow simplify of their difference
        vg, vp = _real_value(g), _real_value(p)
        if vg is not None and vp is not None:
            # decimals inside an expression carry binary rounding; exact forms agree to 30 digits
            floats = _has_float(g) or _has_float(p)
            tol = Fraction(1, 10**9) if floats else Fraction(1, 10**30)
            diff = abs(vg - vp)
            if vg == vp or diff <= tol * max(1, abs(vg)):
                return "equal", g
            if floats and diff <= Fraction(1, 10**4) * abs(vg):
                return "close", g
            return "not-equal", g
    if verify(g, p, timeout_seconds=None, float_rounding=6, allow_set_relation_comp=True):
        return "equal", g
    return "not-equal", g


def _same_symbols(expr):
    """expr with every free symbol made a plain real symbol of its name, and 'i' the imaginary unit.

    LaTeX and printed Python give symbols different assumptions; x and x must still compare equal.
    """
    if expr is None:
        return None
    try:
        from sympy import I, Symbol
        from sympy.logic.boolalg import BooleanAtom

        syms = getattr(expr, "free_symbols", set())
        if not syms:
            return expr
        mapping = {s: (I if s.name == "i" else Symbol(s.name, real=True)) for s in syms if isinstance(s, Symbol)}
        out = expr.xreplace(mapping)
        return expr if isinstance(out, BooleanAtom) else out
    except Exception:  # noqa: BLE001 - odd objects (sets of relations) keep their own symbols
        return expr


def _is_equation(expr) -> bool:
    from sympy import Eq

    return isinstance(expr, Eq)


def _names_a_value(eq) -> bool:
    """'x = 5', '|AB| = 1', '\\frac{NO}{BO} = ...': a left side with no numbers of its own only names the answer."""
    from sympy import Number

    try:
        return not {abs(n) for n in eq.lhs.atoms(Number)} - {1}
    except Exception:  # noqa: BLE001 - unusual left sides: let math-verify judge
        return True


def _has_float(expr) -> bool:
    try:
        from sympy import Float

        return bool(expr.has(Float))
    except Exception:  # noqa: BLE001
        return False


def _real_value(expr) -> Fraction | None:
    """The exact-enough real value (40 digits) of a numeric sympy expression, or None."""
    try:
        from sympy import Basic

        if not isinstance(expr, Basic) or not expr.is_number or _too_big(expr):
            return None
        v = expr.evalf(40)
        if not v.is_real or not v.is_finite:
            return None
        return Fraction(str(v))
    except (TypeError, ValueError, AttributeError, ZeroDivisionError, OverflowError):
        return None


# ---------------------------------------------------------------- comparison rules


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
    """Verdict and reason for two extracted answers; raises _NeedsSymbolic when sympy is needed but not allowed."""
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
        raise _NeedsSymbolic()
    if pn and not pn.is_exact:
        # a printed float: judge by the digits it shows, not by math-verify's fixed rounding
        v = gn.value if gn else _real_value(_parse(g))
        if v is not None:
            return _float_vs_exact(v, pn, bool(gn) or _is_rational(_parse(g)))
    if gn and pn is None:
        # a plain-number gold (decimals read exactly, not as binary floats) against an expression
        pe = _same_symbols(_parse(p))
        v = _real_value(pe)
        if v is not None:
            tol = Fraction(1, 10**9) if _has_float(pe) else Fraction(1, 10**30)
            if v == gn.value or abs(v - gn.value) <= tol * max(1, abs(gn.value)):
                return CORRECT, "symbolic"
            if gn.ulp is not None and abs(v - gn.value) <= gn.ulp / 2:
                return UNCERTAIN, "rounds-to-gold"
            return WRONG, "not-equal"
    if re.search(r"\dj\b", p) and re.search(r"(?<![a-zA-Z\\])i\b", g):
        p = re.sub(r"(?<=\d)j\b", "i", p)  # Python prints the imaginary unit as j
    outcome, gold_expr = _symbolic(g, p)
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


def _is_rational(expr) -> bool:
    try:
        return bool(expr is not None and expr.is_rational)
    except Exception:  # noqa: BLE001 - sympy raises many kinds here
        return False


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


def _timeout_grade(gold: str | None, pred: str | None, rule: str = "") -> Grade:
    return Grade(UNCERTAIN, "timeout", gold, pred, rule)


def _run(kind: str, gold: str, pred: str, timeout: float) -> Grade:
    """Grade one item in this process: fast pass first, then the symbolic one under the time limit."""
    fn = _grade_texts if kind == "full" else _grade_pair
    try:
        return fn(gold, pred, False)
    except _NeedsSymbolic:
        pass
    if threading.current_thread() is not threading.main_thread():
        return _helper().run(kind, gold, pred, timeout)
    _warm_up()
    try:
        with _time_limit(timeout):
            return fn(gold, pred, True)
    except _Timeout:
        g = extract_gold(_tail(gold)) if kind == "full" else gold
        p = extract_answer(_tail(pred)).answer if kind == "full" else pred
        return _timeout_grade(g, p)
    except RecursionError:
        return Grade(UNCERTAIN, "parse-failed", gold if kind != "full" else None, pred if kind != "full" else None)


def _grade_pair(gold_answer: str, pred_answer: str, symbolic: bool) -> Grade:
    if gold_answer is None or not str(gold_answer).strip():
        return Grade(UNCERTAIN, "no-gold", gold_answer, pred_answer)
    if pred_answer is None or not str(pred_answer).strip():
        return Grade(WRONG, "no-answer-found", gold_answer, pred_answer)
    verdict, reason = _compare(str(gold_answer), str(pred_answer), symbolic)
    return Grade(verdict, reason, str(gold_answer), str(pred_answer))


def grade(gold: str, prediction: str, *, timeout: float = 5.0) -> Grade:
    """Grade a full model reply against a reference (bare answer, MATH solution, or GSM8K '####' answer)."""
    return _run("full", gold, prediction, timeout)


def grade_answer(gold_answer: str, pred_answer: str, *, timeout: float = 5.0) -> Grade:
    """Grade two already-extracted answers."""
    return _run("answer", gold_answer, pred_answer, timeout)


# ---------------------------------------------------------------- worker processes


def _worker_main(read_fd: int, write_fd: int) -> None:
    """Worker loop: receive lists of (index, kind, gold, pred, timeout), send back (index, grade fields) each."""
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rx, tx = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    while True:
        try:
            batch = rx.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        for idx, kind, gold, pred, timeout in batch:
            try:
                g = _run(kind, gold, pred, timeout)
            except Exception as exc:  # noqa: BLE001 - one bad item must not kill the worker
                g = Grade(UNCERTAIN, f"error:{type(exc).__name__}", None, None)
            tx.send((idx, (g.verdict, g.reason, g.gold_answer, g.pred_answer, g.rule)))


class _Worker:
    """One grading subprocess (a fresh interpreter, so no __main__ re-import) that can be killed when it overruns."""

    def __init__(self):
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
        code = f"from mathbench.core.grading.grader import _worker_main; _worker_main({to_child_r}, {from_child_w})"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.tx = Connection(to_child_w, readable=False)
        self.rx = Connection(from_child_r, writable=False)
        self.pending: list[int] = []  # indices sent, not yet answered, in order
        self.current_since = time.monotonic()
        self.answered = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, items: list[tuple]) -> None:
        if not self.pending:
            self.current_since = time.monotonic()
        self.pending.extend(it[0] for it in items)
        self.tx.send(items)  # pending first: if the pipe is broken, the items are still accounted for

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        self.tx.close()
        self.rx.close()

    def close(self) -> None:
        try:
            self.tx.send(None)
            self.proc.wait(2)
        except (OSError, ValueError):
            pass
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: fall through to kill
            pass
        self.kill()


def _hard_deadline(timeout: float) -> float:
    return timeout * 2 + 3.0  # the worker's own timer fires at `timeout`; this catches what it cannot stop


_STARTUP = 60.0  # a fresh worker imports sympy and math-verify before its first answer


def _fallback_grade(kind: str, gold: str, pred: str) -> Grade:
    g = extract_gold(_tail(gold)) if kind == "full" else gold
    p = extract_answer(_tail(pred)).answer if kind == "full" else pred
    return _timeout_grade(g, p)


class _Helper:
    """A single lazily started worker that serves symbolic grading for non-main threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.worker: _Worker | None = None

    def run(self, kind: str, gold: str, pred: str, timeout: float) -> Grade:
        with self.lock:
            fresh = self.worker is None or not self.worker.alive()
            if fresh:
                self.worker = _Worker()
            w = self.worker
            try:
                w.send([(0, kind, gold, pred, timeout)])
                if w.rx.poll(_hard_deadline(timeout) + (_STARTUP if fresh else 0.0)):
                    _, fields = w.rx.recv()
                    w.pending.clear()
                    return Grade(*fields)
            except (EOFError, OSError):
                pass
            w.kill()
            self.worker = None
        return _fallback_grade(kind, gold, pred)


_HELPER: _Helper | None = None
_HELPER_LOCK = threading.Lock()


def _helper() -> _Helper:
    global _HELPER
    with _HELPER_LOCK:
        if _HELPER is None:
            _HELPER = _Helper()
        return _HELPER


def grade_many(
    pairs: Iterable[tuple[str, str]],
    *,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    timeout: float = 5.0,
    chunk: int = 4,
) -> list[Grade]:
    """Grade (gold, prediction) full texts across all cores; an item that overruns becomes uncertain 'timeout'."""
    items = [(str(g) if g is not None else "", str(p) if p is not None else "") for g, p in pairs]
    total = len(items)
    results: list[Grade | None] = [None] * total
    done = 0

    def finished(n: int = 1) -> None:
        nonlocal done
        done += n
        if on_progress is not None:
            on_progress(done, total)

    slow: list[int] = []
    for i, (gold, pred) in enumerate(items):
        try:
            results[i] = _grade_texts(gold, pred, False)
            finished()
        except _NeedsSymbolic:
            slow.append(i)
    n_workers = max(1, min(workers or os.cpu_count() or 1, math.ceil(len(slow) / 4)))
    main = threading.current_thread() is threading.main_thread()
    # a handful of symbolic items costs less here than starting worker processes (each imports sympy)
    if (len(slow) <= 16 and main) or len(slow) <= 2 or (n_workers == 1 and main):
        for i in slow:
            results[i] = _run("full", items[i][0], items[i][1], timeout)
            finished()
    elif slow:
        _pool_grade(items, slow, results, n_workers, timeout, chunk, finished)
    return results  # type: ignore[return-value]


def _pool_grade(items, slow, results, n_workers, timeout, chunk, finished) -> None:
    """Farm the symbolic items out to worker processes, killing and replacing any that overrun."""
    from multiprocessing.connection import wait

    queue = list(reversed(slow))  # popped from the end
    hard = _hard_deadline(timeout)
    failed_starts = 0

    def feed(w: _Worker) -> None:
        batch = []
        while queue and len(batch) < chunk:
            i = queue.pop()
            batch.append((i, "full", items[i][0], items[i][1], timeout))
        if batch:
            try:
                w.send(batch)
            except OSError:
                pass  # a dead worker: its items stay pending and are dealt with below

    pool = [_Worker() for _ in range(n_workers)]
    try:
        for w in pool:
            feed(w)
        while any(w.pending for w in pool):
            busy = [w for w in pool if w.pending]
            ready = wait([w.rx for w in busy], timeout=0.25)
            now = time.monotonic()
            for w in busy:
                if w.rx in ready:
                    try:
                        while w.pending and w.rx.poll():
                            idx, fields = w.rx.recv()
                            results[idx] = Grade(*fields)
                            w.pending.remove(idx)
                            w.current_since = time.monotonic()
                            w.answered += 1
                            finished()
                    except (EOFError, OSError):
                        pass
                    if len(w.pending) < chunk:
                        feed(w)  # keep the pipe full so the worker never waits on us
                    if not w.pending:
                        continue
                limit = hard + (_STARTUP if w.answered == 0 else 0.0)
                dead = not w.alive()
                if w.pending and (dead or now - w.current_since > limit):
                    stuck, rest = w.pending[0], w.pending[1:]
                    if dead and w.answered == 0:
                        failed_starts += 1
                    if failed_starts >= 2:
                        raise RuntimeError("grading worker processes fail to start")
                    results[stuck] = _fallback_grade("full", *items[stuck])
                    finished()
                    w.kill()
                    pool.remove(w)
                    queue.extend(reversed(rest))
                    nw = _Worker()
                    pool.append(nw)
                    feed(nw)
    finally:
        for w in pool:
            w.close()
