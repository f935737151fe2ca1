"""Answer-string normalisation: strip delimiters, units, currency and separators, and read plain numbers exactly."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

from mathbench.core.grading.limits import MAX_DIGITS, MAX_EXPONENT, TooLarge

# Words that look like units but are mathematics, so they are never stripped after a number.
_MATH_WORDS = {"pi", "sqrt", "ln", "log", "sin", "cos", "tan", "cot", "sec", "csc", "mod", "inf", "infty", "deg"}

_TEXT_CMD = r"\\(?:text|textbf|textit|textrm|textnormal|mbox|mathrm|mathbf|mathit|operatorname)\s*"
_TEXT_CMD_E = r"\\(?:text|textrm|mathrm|operatorname)\s*"
_TEXT_RE = re.compile(_TEXT_CMD + r"\{([^{}]*)\}")
_WRAPPERS = [
    (re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?=[\\()\[\]{}|.])"), ""),
    (re.compile(r"(?<=\d),\\!\s*(?=\d{3}(?!\d))"), ","),  # 11,\! 111 is one number
    (re.compile(r"(?<=\{\d)(\d{0,2}),(?=\d{3}\})"), r"\1"),  # \frac{12}{5,525}
    (re.compile(r"\\displaystyle|\\limits|\\!"), ""),
    (re.compile(r"\\[dtc]frac"), r"\\frac"),
    (re.compile(_TEXT_CMD_E + r"\{\s*e\s*\}"), "e"),  # upright e is Euler's number, not a unit
    (re.compile(r"\\varnothing|\\empty(?![a-z])|\\O(?![a-zA-Z])"), r"\\emptyset"),
    (re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree"), ""),
    (re.compile(r"(?<=\d)(?:\{,\}|\\,|\\ |\\;|\\:)(?=\d{3}(?!\d))"), ""),  # 1{,}080, 1\,080
    (re.compile(r"(?<!\\)\\[,;:> ]|\\q?quad|~"), " "),
    (re.compile(r"\\\$|\\(?:textdollar|dollar)\b"), ""),
]
_DELIMS = re.compile(r"^\s*(?:\$\$|\$|\\\(|\\\[)\s*(.*?)\s*(?:\$\$|\$|\\\)|\\\])\s*$", re.DOTALL)
_TRAIL_PUNCT = re.compile(r"(?:[\s.。,，;；:：！?？]|(?<![\d)}!])!)+$")  # '5!' keeps its factorial sign

_NUM = r"(?:[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?|\d+\.\d*|\.\d+|\d+)"
_NUMBER_RE = re.compile(
    rf"^(?P<sign>[-+−]?)\s*(?P<cur>[$¥￥€£₹])?\s*(?P<num>{_NUM})"
    r"(?:\s*(?:[eE](?P<exp>[+-]?\d+)|\\times\s*10\^\{?(?P<exp2>[-+−]?\d+)\}?))?"
    r"\s*(?P<pct>\\?%|(?:percent(?:age)?|per\s?cent|pct|pour\s?cent|por\s?ciento|prozent|procent)\b|个百分点)?$"
)
_FRAC_RE = re.compile(r"^(?P<sign>[-+−]?)\s*(?:\\frac\{\s*(?P<a>\d+)\s*\}\{\s*(?P<b>\d+)\s*\}|(?P<c>\d+)\s*/\s*(?P<d>\d+))$")
_SIGNED_FRAC_RE = re.compile(r"^\\frac\{\s*(?P<sign>[-+−])\s*(?P<a>\d+)\s*\}\{\s*(?P<b>\d+)\s*\}$")
_PLAIN_MIXED_RE = re.compile(r"^(?P<sign>[-+−]?)(?P<w>\d+)\s+(?P<a>\d+)/(?P<b>\d+)$")  # '1 1/2'
_REPEATING_RE = re.compile(r"^(?P<sign>[-+−]?)(?P<i>\d*)\.(?P<f>\d*)\\overline\{\s*(?P<r>\d+)\s*\}$")
_MIXED_RE = re.compile(r"^(?P<sign>[-+−]?)\s*(?P<w>\d+)\s*\\frac\{\s*(?P<a>\d+)\s*\}\{\s*(?P<b>\d+)\s*\}$")
# A unit after a number: CJK words, or a Latin word of two letters or more (single letters may be variables).
_UNIT_WORD = r"(?:[A-Za-z]{2,}(?:\^\{?[23]\}?)?\.?|[\u4e00-\u9fff]+)"  # 'cm^2' carries its power
_UNIT_TAIL = re.compile(rf"^(?P<head>.*?(?:\d\s*%?|\}}))\s*(?P<unit>{_UNIT_WORD}(?:\s+{_UNIT_WORD})*)$")
_ASSIGN_RE = re.compile(
    r"^\s*(?:[A-Za-z](?:_\{?\w+\}?)?|\\[a-zA-Z]+(?:\{[A-Za-z]\})?|\\(?:mathbf|vec|bold|boldsymbol)\s*\{?[A-Za-z]\}?)"
    r"\s*(?:=|\\approx|≈)\s*(?P<rhs>[^=<>]+)$",
    re.DOTALL,
)
_MEMBER_RE = re.compile(r"^\s*[A-Za-z]\s*\\in\s*(?P<rhs>[\[(].*[\])])\s*$", re.DOTALL)
_ARITH_RE = re.compile(r"^(?:[\d\s+\-*/×÷().,=^{}]|\\(?:times|cdot|div|frac|left|right))+$")
_BASE_RE = re.compile(r"^(?P<digits>[0-9A-Za-z]+)_\{?(?P<base>\d+)\}?$")
_LABELLED_OPTION = re.compile(r"^(?:\(\s*(?P<l>[A-E])\s*\)\s*|(?P<m>[A-E])[.:)]\s+)\S")  # '(D) Alina'
_CHOICE_RE = re.compile(r"^\(?\s*(?P<l>[A-Ea-e])\s*\)?\.?$")


@dataclass(frozen=True)
class Number:
    """An exactly read number: its value, the unit in the last place it shows (None when exact), digits shown."""

    value: Fraction
    ulp: Fraction | None
    sig: int
    percent: bool = False

    @property
    def is_exact(self) -> bool:
        return self.ulp is None


def strip_delimiters(text: str) -> str:
    """Remove surrounding math delimiters ($..$, \\(..\\), \\[..\\]), pair by pair."""
    text = text.strip()
    for _ in range(8):
        m = _DELIMS.match(text)
        if not m:
            break
        text = m.group(1).strip()
    return text


def unwrap_text(text: str) -> str:
    """Replace \\text{..}-style commands by their content."""
    for _ in range(8):  # nesting deeper than this is no answer anyone writes
        prev, text = text, _TEXT_RE.sub(lambda m: m.group(1), text)
        if text == prev:
            break
    return text


_JOINERS = [
    (re.compile(r"(?<=[\d}\)])\s*(?:\\text\s*\{\s*(?:and|or)\s*\}|\b(?:and|or)\b)\s*(?=[-\d\\(]|[A-Za-z]\w*\s*=)"), ", "),
    (re.compile(r",\s*(?:\\text\s*\{\s*(?:and|or)\s*\}|\b(?:and|or)\b)\s*"), ", "),  # '19, 46, and 82'
]
_UNICODE_MATH = [
    (re.compile(r"√\s*\(([^()]*)\)"), r"\\sqrt{\1}"),
    (re.compile(r"√\s*([0-9.]+|[A-Za-z])"), r"\\sqrt{\1}"),
    (re.compile("∞"), r"\\infty "),
    (re.compile("π"), r"\\pi "),
    (re.compile("∪"), r"\\cup "),
    (re.compile("∩"), r"\\cap "),
    (re.compile("≤"), r"\\le "),
    (re.compile("≥"), r"\\ge "),
    (re.compile("≠"), r"\\ne "),
    (re.compile("×"), r"\\times "),
    (re.compile("[·⋅]"), r"\\cdot "),
    (re.compile("÷"), r"\\div "),
    (re.compile("∈"), r"\\in "),
    (re.compile("[（]"), "("),
    (re.compile("[）]"), ")"),
    # a Chinese "or"/"and" between two pieces of mathematics separates answers
    (re.compile(r"(?<=[^\u4e00-\u9fff\s])\s*(?:或者|或|和|以及|及|且)\s*(?=[^\u4e00-\u9fff\s])"), ", "),
]


_SPACES = str.maketrans({"\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ", "\u3000": " ", "\u2002": " ",
                        "\u2003": " ", "\u200b": "", "\ufeff": "", **{chr(0xFF10 + i): str(i) for i in range(10)}})
_ARRAY_MATRIX = re.compile(
    r"(?:\\left\s*)?[\[(]\s*\\begin\{array\}\{[^{}]*\}(?P<body>.*?)\\end\{array\}\s*(?:\\right\s*)?[\])]", re.DOTALL)


def plain_spaces(text: str) -> str:
    """Every kind of space (no-break, thin, ideographic) as a plain one; full-width digits as ASCII."""
    return text.translate(_SPACES)


@functools.lru_cache(maxsize=4096)
def clean(answer: str) -> str:
    """A canonical printed form of an answer: no delimiters, sizing commands, degrees, currency or end punctuation."""
    s = strip_delimiters(plain_spaces(answer))
    s = _ARRAY_MATRIX.sub(lambda m: "\\begin{pmatrix}" + m.group("body") + "\\end{pmatrix}", s)
    s = re.sub(r"\\begin\{[bBvV]?matrix\}", r"\\begin{pmatrix}", s)
    s = re.sub(r"\\end\{[bBvV]?matrix\}", r"\\end{pmatrix}", s)
    s = s.replace("\\%", "%").replace("％", "%").replace("，", ",").replace("−", "-").replace("：", ":")
    for pattern, repl in _UNICODE_MATH:
        s = pattern.sub(repl, s)
    for pattern, repl in _WRAPPERS:
        s = pattern.sub(repl, s)
    s = re.sub(r"\$", "", s)
    for pattern, repl in _JOINERS:
        s = pattern.sub(repl, s)
    s = _strip_text_units(s)
    s = _TRAIL_PUNCT.sub("", s.strip())
    s = re.sub(r"\s+", " ", s).strip()
    if re.fullmatch(r"-?\d{1,3}(?: \d{3})+(?:\.\d+)?", s):
        s = s.replace(" ", "")  # 1 080: a space as thousands separator
    if s.startswith("{") and s.endswith("}") and _balanced(s[1:-1]):
        s = s[1:-1].strip()
    return s


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0


def _strip_text_units(s: str) -> str:
    """Drop a trailing \\text{unit} (with optional ^2) that follows a value; unwrap a lone \\text{word}."""
    m = re.match(r"^(?P<head>.*?\S)\s*" + _TEXT_CMD + r"\{(?P<unit>[^{}]*)\}(?:\^\{?\d\}?)?$", s)
    if m and re.search(r"[\d}\)a-zA-Z]\s*$", m.group("head")) and not re.fullmatch(r"\s*(?:and|or|,)?\s*", m.group("unit")):
        head = m.group("head")
        if not re.search(r"\\(?:text|mbox|mathrm)\s*$", head):
            return head.strip()
    whole = re.fullmatch(_TEXT_CMD + r"\{(?P<inner>[^{}]*)\}", s)
    if whole:
        return whole.group("inner").strip()
    return s


def strip_assignment(s: str) -> str:
    """'x = 5' -> '5', 'x \\in (1, 2)' -> '(1, 2)' (a single variable given a value or a set); else unchanged."""
    m = _ASSIGN_RE.match(s) or _MEMBER_RE.match(s)
    return m.group("rhs").strip() if m else s


def split_top_level(s: str, sep: str = ",") -> list[str]:
    """Split on `sep` where no bracket of any kind is open."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def strip_assignments(s: str) -> str:
    """'x = 5' -> '5'; 'x = 2, x = 3' -> '2, 3' (every part assigns a value); anything else unchanged."""
    parts = split_top_level(s)
    rhs = [strip_assignment(p) for p in parts]
    if all(r != p for r, p in zip(rhs, parts)):
        return ", ".join(rhs)
    return s


def strip_unit_words(s: str) -> str:
    """'18 dollars' / '3辆' / '5 cm' -> the number part, when what precedes the unit ends in a digit."""
    m = _UNIT_TAIL.match(s)
    if not m:
        return s
    words = re.findall(r"[A-Za-z]+", m.group("unit"))
    if any(w.lower() in _MATH_WORDS for w in words):
        return s
    return m.group("head").strip()


_WORD_NUMBERS = {
    w: i for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_SCALE_RE = re.compile(r"^(?P<n>[-+]?[\d.,]+)\s*(?P<scale>thousand|million|billion|trillion|万|亿|千)(?P<rest>.*)$")
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12, "千": 10**3, "万": 10**4, "亿": 10**8}


def parse_number(answer: str) -> Number | None:
    """Read a plain number (integer, decimal, thousands separators, %, currency, unit words, fraction) exactly."""
    s = clean(answer)
    word = unwrap_text(s).strip().lower()
    if word in _WORD_NUMBERS:
        return Number(Fraction(_WORD_NUMBERS[word]), None, 1)
    m = _SCALE_RE.match(unwrap_text(s).strip())
    if m:
        base = _read_number(m.group("n"))
        if base is not None and not re.search(r"\d", m.group("rest")):
            scale = _SCALES[m.group("scale")]
            return Number(base.value * scale, base.ulp * scale if base.ulp else None, base.sig, base.percent)
    for candidate in _number_forms(s):
        n = _read_number(candidate)
        if n is not None:
            return n
    return None


def _number_forms(s: str):
    yield s
    t = strip_unit_words(s)
    if t != s:
        yield t
    a = strip_assignment(s)
    if a != s:
        yield a
        yield strip_unit_words(a)
    # chains of arithmetic like "3 \times 6 = 18" end in the value
    head, eq, last = s.rpartition("=")
    if eq and _ARITH_RE.match(head):
        last = last.strip()
        if last:
            yield last
            yield strip_unit_words(last)


def _read_number(s: str) -> Number | None:
    s = s.strip().replace("−", "-")
    if re.search(r"\d{%d,}" % MAX_DIGITS, s):
        raise TooLarge("a number of thousands of digits")
    m = _NUMBER_RE.match(s)
    if m:
        num = m.group("num").replace(",", "")
        exp = m.group("exp") or (m.group("exp2") or "").replace("−", "-")
        sign = -1 if m.group("sign") in ("-", "−") else 1
        value = Fraction(num) * sign
        ulp = None
        if "." in num:
            decimals = len(num.split(".", 1)[1])
            ulp = Fraction(1, 10**decimals)
        if exp and (len(exp.lstrip("+-")) > 6 or abs(int(exp)) > MAX_EXPONENT):
            raise TooLarge(f"10^{exp}")
        if exp:
            scale = Fraction(10) ** int(exp)
            value *= scale
            ulp = (ulp or Fraction(1)) * scale if (ulp is not None or int(exp) < 0) else None
        digits = num.replace(".", "").lstrip("0")
        sig = len(digits) if digits else 1
        if "." not in num and ulp is None:
            sig = max(sig, 1)
        return Number(value, ulp, sig, bool(m.group("pct")))
    m = _FRAC_RE.match(s) or _SIGNED_FRAC_RE.match(s)
    if m:
        a, b = (m.group("a"), m.group("b")) if m.group("a") else (m.group("c"), m.group("d"))
        if int(b) == 0:
            return None
        sign = -1 if m.group("sign") in ("-", "−") else 1
        return Number(sign * Fraction(int(a), int(b)), None, 0)
    m = _REPEATING_RE.match(s)
    if m:  # a.b\overline{c} = a.b + c / (10^len(b) * (10^len(c) - 1))
        f, r = m.group("f"), m.group("r")
        value = Fraction(int(m.group("i") or 0)) + Fraction(int(f or 0), 10 ** len(f))
        value += Fraction(int(r), 10 ** len(f) * (10 ** len(r) - 1))
        return Number(-value if m.group("sign") in ("-", "−") else value, None, 0)
    m = _MIXED_RE.match(s) or _PLAIN_MIXED_RE.match(s)
    if m and int(m.group("b")) != 0 and int(m.group("a")) < int(m.group("b")):
        sign = -1 if m.group("sign") in ("-", "−") else 1
        return Number(sign * (int(m.group("w")) + Fraction(int(m.group("a")), int(m.group("b")))), None, 0)
    return None


def choice_letter(answer: str) -> str | None:
    """The multiple-choice letter an answer names ('(C)', '\\text{(C)}', 'C.'), upper-case; else None."""
    s = unwrap_text(clean(answer))
    s = re.sub(r"^(?:option|choice|选项|答案)\s*", "", s, flags=re.I)
    m = _CHOICE_RE.match(s.strip())
    if m:
        return m.group("l").upper()
    m = _LABELLED_OPTION.match(s.strip())
    return (m.group("l") or m.group("m")) if m else None


def base_digits(answer: str) -> tuple[str, int] | None:
    """'1011_2' / '1011_{2}' -> ('1011', 2): a numeral written with its base."""
    m = _BASE_RE.match(clean(answer).replace(" ", ""))
    if not m:
        return None
    return m.group("digits").upper(), int(m.group("base"))


def plain_words(answer: str) -> str | None:
    """A lower-cased word answer ('Devon', '\\text{even}', 'Monday'), or None when it holds any mathematics."""
    s = unwrap_text(clean(answer)).strip().lower()
    s = re.sub(r"^(?:the\s+)", "", s)
    if re.fullmatch(r"[a-z][a-z' \-]*[a-z]|[\u4e00-\u9fff]+", s) and len(s) >= 2:
        return s
    return None


_DECIMAL_COMMA = re.compile(r"^(?P<sign>[-+−]?)(?P<int>\d+),(?P<frac>\d+)(?P<tail>\s*(?:[$€£¥%]|[A-Za-z²³]{1,3})?)$")


def decimal_comma(answer: str) -> str | None:
    """'1000,99' / '2,74 $' / '0,111' -> the same number with a decimal point, when the comma cannot group thousands."""
    m = _DECIMAL_COMMA.match(clean(answer))
    if not m:
        return None
    whole, frac = m.group("int"), m.group("frac")
    if len(frac) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0"):
        return None  # 1,000: a thousands separator
    return f"{m.group('sign')}{whole}.{frac}"
