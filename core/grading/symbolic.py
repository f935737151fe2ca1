"""The symbolic layer: answers parsed by math-verify (LaTeX) or sympy (printed Python) and compared."""

from __future__ import annotations

import functools
import logging
import re
from fractions import Fraction

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


def warm_up() -> None:
    """Run sympy's and math-verify's lazy imports once with no timer armed (an alarm mid-import breaks sympy)."""
    global _WARM
    if _WARM:
        return
    import sympy

    exec("from sympy import *", {})  # noqa: S102 - sympy's own parse_expr does this lazily
    sympy.simplify(sympy.sympify("(x+1)**2 - x**2 - 2*x - 1"))
    _, verify, _ = _mv()
    for a, b in _WARM_PAIRS:
        ga, gb = parse(a), parse(b)
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


def parse(text: str):
    """A sympy object for one answer, as LaTeX or as printed Python, or None."""
    if _PYTHONIC.search(text) and "\\" not in text:
        expr = _parse_python(text)
        if expr is not None:
            return expr
    return _parse_latex(text)


@functools.lru_cache(maxsize=512)
def _parse_latex(latex: str):
    """A sympy object for one answer (wrapped in $..$ so math-verify reads it as LaTeX), or None."""
    mv_parse, _, config = _mv()
    out = mv_parse(f"${latex}$", extraction_config=[config(boxed_match_priority=0)], parsing_timeout=None)
    if out and not isinstance(out[0], str):
        return out[0]
    return None


def too_big(expr) -> bool:
    """Whether evaluating expr could run unbounded in C (huge powers or factorials), where no timer can stop it."""
    try:
        from sympy import Pow, Product, Sum, factorial, preorder_traversal

        for node in preorder_traversal(expr):
            if isinstance(node, (Sum, Product)):
                for _, lo, hi in node.limits:
                    if not (lo.is_number and hi.is_number) or abs(complex((hi - lo).evalf(15))) > 10_000:
                        return True
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


def compare(gold: str, pred: str) -> tuple[str, object]:
    """('equal'|'not-equal'|'parse-failed'|'too-large', gold value or None) from math-verify."""
    g_t, p_t = _vector_as_tuple(gold), _vector_as_tuple(pred)
    if g_t != gold and p_t == pred and pred.lstrip().startswith("("):
        gold = g_t  # a column vector against a tuple: compare both as tuples
    elif p_t != pred and g_t == gold and gold.lstrip().startswith("("):
        pred = p_t
    _, verify, _ = _mv()
    g = same_symbols(parse(gold))
    p = same_symbols(parse(pred))
    if g is None or p is None:
        return "parse-failed", g
    if too_big(g) or too_big(p):
        return "too-large", None
    if _is_equation(g) != _is_equation(p) and not _names_a_value(g if _is_equation(g) else p):
        return "not-equal", g  # '10x - 4y - 5z - 20 = 0' is no answer to a question whose answer is 0
    if "%" not in gold + pred:
        # two real constants: 40 digits settle it, without sympy's slow simplify of their difference
        vg, vp = real_value(g), real_value(p)
        if vg is not None and vp is not None:
            # decimals inside an expression carry binary rounding; exact forms agree to 30 digits
            floats = has_float(g) or has_float(p)
            tol = Fraction(1, 10**9) if floats else Fraction(1, 10**30)
            diff = abs(vg - vp)
            if vg == vp or diff <= tol * max(1, abs(vg)):
                return "equal", g
            if floats and diff <= Fraction(1, 10**4) * abs(vg):
                return "close", g
            return "not-equal", g
    sampled = _sample_compare(g, p)
    if sampled is not None:
        return sampled, g
    if verify(g, p, timeout_seconds=None, float_rounding=6, allow_set_relation_comp=True):
        return "equal", g
    return "not-equal", g


_SAMPLE_POINTS = ((0.3183, 0.7071, 0.5772, 0.4142, 0.6931), (1.2599, -0.8862, 1.6180, 2.7183, -1.4142),
                  (-2.2361, 1.7321, -0.3679, 0.9163, 1.1447))


def _sample_compare(g, p) -> str | None:
    """'not-equal' when two polynomial-like expressions in the same symbols differ at a sample point, 'equal' when
    they agree at three (Schwartz-Zippel); None when they are no such pair. Faster than expanding (x+y+z)^40."""
    try:
        from sympy import Add, Expr, Float, Integer, Mul, Pow, Rational, Symbol, preorder_traversal

        if not (isinstance(g, Expr) and isinstance(p, Expr)) or not g.free_symbols or g.free_symbols != p.free_symbols:
            return None
        allowed = (Add, Mul, Pow, Symbol, Integer, Rational, Float)
        for node in list(preorder_traversal(g)) + list(preorder_traversal(p)):
            if not isinstance(node, allowed) or (isinstance(node, Pow) and not node.exp.is_Integer):
                return None
        syms = sorted(g.free_symbols, key=lambda s: s.name)
        if len(syms) > len(_SAMPLE_POINTS[0]):
            return None
        for point in _SAMPLE_POINTS:
            subs = {s: Rational(str(v)) for s, v in zip(syms, point)}
            vg, vp = g.xreplace(subs), p.xreplace(subs)
            if not (vg.is_Number and vp.is_Number):
                return None
            if vg != vp and abs(vg - vp) > Rational(1, 10**9) * max(1, abs(vg)):
                return "not-equal"
        return "equal"
    except (TypeError, ValueError, AttributeError, ZeroDivisionError):
        return None


def same_symbols(expr):
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


def has_float(expr) -> bool:
    try:
        from sympy import Float

        return bool(expr.has(Float))
    except Exception:  # noqa: BLE001
        return False


def real_value(expr) -> Fraction | None:
    """The exact-enough real value (40 digits) of a numeric sympy expression, or None."""
    try:
        from sympy import Basic

        if not isinstance(expr, Basic) or not expr.is_number or too_big(expr):
            return None
        v = expr.evalf(40)
        if not v.is_real or not v.is_finite:
            return None
        return Fraction(str(v))
    except (TypeError, ValueError, AttributeError, ZeroDivisionError, OverflowError):
        return None



def is_rational(expr) -> bool:
    """Whether a parsed answer is known to be a rational number."""
    try:
        return bool(expr is not None and expr.is_rational)
    except Exception:  # noqa: BLE001 - sympy raises many kinds here
        return False
