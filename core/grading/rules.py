"""The comparison rules: two extracted answers to a three-way verdict with its reason."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from fractions import Fraction

from mathbench.core.grading import normalize as nz
from mathbench.core.grading import symbolic as sym
from mathbench.core.grading.limits import check_size
from mathbench.core.records import Verdict

CORRECT, WRONG, UNCERTAIN = Verdict.CORRECT, Verdict.WRONG, Verdict.UNCERTAIN


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
        # a gold printed to six or more significant digits is a value, not a rough figure
        return (CORRECT, "numeric-6sig") if gn.sig >= 6 else (UNCERTAIN, "rounds-to-gold")
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


_RELATION = re.compile(r"\\approx|≈|\\simeq|(?<![<>!=\\])=(?!=)")
_HEDGE = re.compile(r"\b(?:or|maybe|perhaps|possibly|probably|either)\b|或者|或是|还是|可能|也许|大概|または", re.I)
_DECIMAL = re.compile(r"\d\.\d")


def _final_side(s: str) -> str:
    """The last side of a relation chain ('x = 5+5+1 = 7 = 11' -> '11', 'x = 1/3 \\approx 0.33' -> '1/3'); else s."""
    sides, ops, depth, start = [], [], 0, 0
    for m in re.finditer(r"[([{]|[)\]}]|" + _RELATION.pattern, s):
        tok = m.group(0)
        if tok in "([{":
            depth += 1
        elif tok in ")]}":
            depth -= 1
        elif depth == 0:
            sides.append(s[start : m.start()])
            ops.append("=" if tok == "=" else "~")
            start = m.end()
    sides.append(s[start:])
    if len(ops) < 2 or not sides[-1].strip() or len(nz.split_top_level(s)) > 1:
        return s  # no chain, or a list of answers ('x=2, x=3')
    eq = [i for i, op in enumerate(ops) if op == "="]
    pick = sides[eq[-1] + 1] if eq else sides[-1]
    return pick.strip() or s


def _bare(s: str) -> str:
    """s without one pair of parentheses around all of it when they hold a relation ('(35 + 70 = 105)')."""
    m = re.fullmatch(r"\((.*)\)", s.strip())
    if m and "=" in m.group(1) and nz.split_top_level(m.group(1)) == [m.group(1).strip()]:
        depth = 0
        for ch in m.group(1):
            depth += ch in "([{"
            depth -= ch in ")]}"
            if depth < 0:
                return s
        return m.group(1).strip()
    return s


def _alternatives(p: str) -> list[str] | None:
    """The values of an answer that hedges between several ('3 or maybe 2'), or of an unbracketed list."""
    if _HEDGE.search(p) and not re.search(r"\\|[=<>]", p):
        values = list(dict.fromkeys(n for n in re.findall(r"-?\d+(?:\.\d+)?(?:/\d+)?", p)))
        if len(values) >= 2:
            return values
    parts = nz.split_top_level(p)
    if len(parts) >= 2 and all(parts):
        return [nz.strip_assignment(x) for x in parts]
    return None


def _single_valued(g: str) -> bool:
    return not re.search(r"[,;]|\\pm|\\mp|±|∓", g)


def _structure(s: str) -> tuple[str, tuple, list[str]] | None:
    """(kind, shape, entries) of a matrix, vector, tuple or interval written out, else None."""
    s = s.strip()
    m = re.fullmatch(r"\(?\s*\\begin\{pmatrix\}(?P<body>.*?)(?:\\\\\s*)?\\end\{pmatrix\}\s*\)?", s, re.DOTALL)
    if m:
        rows = [[c.strip() for c in r.split("&")] for r in re.split(r"\\\\", m.group("body")) if r.strip()]
        if not rows or len({len(r) for r in rows}) != 1:
            return None
        if len(rows[0]) == 1 or len(rows) == 1:  # a column or row vector reads as a tuple
            flat = [c for r in rows for c in r]
            return "tuple", ("(", ")", len(flat)), flat
        return "matrix", (len(rows), len(rows[0])), [c for r in rows for c in r]
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and nz.split_top_level(s[1:-1]) != [s[1:-1]]:
        inner = s[1:-1]
        depth = 0
        for ch in inner:
            depth += ch in "([{"
            depth -= ch in ")]}"
            if depth < 0:
                return None
        entries = nz.split_top_level(inner)
        return "tuple", (s[0], s[-1], len(entries)), entries
    return None


def _compare_structures(g: str, p: str, symbolic: bool) -> tuple[str, str] | None:
    """Entry by entry, when both sides are the same kind of structure and decimals are involved."""
    gs, ps = _structure(g), _structure(p)
    if not gs or not ps or gs[0] != ps[0] or gs[1] != ps[1]:
        return None
    verdicts = [compare(a, b, symbolic)[0] for a, b in zip(gs[2], ps[2])]
    if all(v == CORRECT for v in verdicts):
        return CORRECT, "symbolic"
    if any(v == WRONG for v in verdicts):
        return WRONG, "not-equal"
    return UNCERTAIN, "float-close-not-equal"  # entries that are roundings of the gold's, never a wrong answer


def compare(gold: str, pred: str, symbolic: bool) -> tuple[str, str]:
    """Verdict and reason for two extracted answers; raises NeedsSymbolic when sympy is needed but not allowed."""
    g, p = nz.clean(gold), nz.clean(pred)
    if not p:
        return WRONG, "no-answer-found"
    if not g:
        return UNCERTAIN, "no-gold"
    if g == p or _canon(g) == _canon(p):
        return CORRECT, "exact"
    gf, pf = _final_side(_bare(g)), _final_side(_bare(p))
    if (gf, pf) != (g, p):
        return compare(gf, pf, symbolic)
    if ("=" in p and "=" not in g) or ("\\in" in p and "\\in" not in g and not re.search(r"[<>]|\\[lg]e", g)):
        rhs = nz.strip_assignments(p)
        if rhs != p:
            return compare(g, rhs, symbolic)
    g_rhs, p_rhs = _function_rhs(g, p)
    if g_rhs is not None:
        return compare(g_rhs, p_rhs, symbolic)
    if re.fullmatch(r"\[[^\[\]]*,[^\[\]]*\]", p) and not re.match(r"^[\[(].*[\])]$", g):
        return compare(g, p[1:-1], symbolic)  # a printed Python list of solutions
    if re.fullmatch(r"\([^()]*,[^()]*\)", g) and "," in p and not re.match(r"^\s*[\[(]", p):
        return compare(g, f"({p})", symbolic)  # '7, 6' for the pair (7, 6): read in the gold's order
    gl = nz.choice_letter(g)
    if gl:
        pl = nz.choice_letter(p)
        if pl:
            return (CORRECT, "choice") if pl == gl else (WRONG, "choice")
    gn, pn = nz.parse_number(g), nz.parse_number(p)
    if gn and not pn and (dc := nz.decimal_comma(p)):
        pn = nz.parse_number(dc)  # '1000,99' against 1000.99: a decimal comma
    elif pn and not gn and (dc := nz.decimal_comma(g)):
        gn = nz.parse_number(dc)
    if gn and pn:
        return _compare_numbers(gn, pn)
    if gn and re.fullmatch(r"-?[\[(].*,.*[\])]", p):
        return WRONG, "not-equal"  # a number against an interval or a tuple
    if gn and "=" in p and re.search(r"\d", p.rsplit("=", 1)[0]) and re.search(r"[A-Za-z]", p):
        return WRONG, "not-equal"  # a number against an equation still to solve ('x + 2x = 105')
    if gn:
        clock = _clock_hours(p)
        if clock is not None:
            return (CORRECT, "time") if gn.value in clock else (WRONG, "not-equal")
    gc, pc = _clock_hours(g), _clock_hours(p)
    if gc and pc:
        return (CORRECT, "time") if gc & pc else (WRONG, "not-equal")
    if _single_valued(g) and (alts := _alternatives(p)) and len(alts) >= 2:
        verdicts = [compare(g, a, symbolic)[0] for a in alts]
        if all(v == CORRECT for v in verdicts):
            return CORRECT, "exact"
        if any(v != WRONG for v in verdicts):
            return UNCERTAIN, "several-values"  # the gold among other values: which one did it mean?
        return WRONG, "not-equal"
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
    if _DECIMAL.search(g + p) and (found := _compare_structures(g, p, symbolic)) is not None:
        return found
    if not symbolic:
        raise NeedsSymbolic()
    check_size(g)
    check_size(p)
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
                return (CORRECT, "numeric-6sig") if gn.sig >= 6 else (UNCERTAIN, "rounds-to-gold")
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
