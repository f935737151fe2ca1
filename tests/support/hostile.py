"""Sixty hostile (gold, prediction) pairs: answers built to hang, crash or exhaust a grader."""

from __future__ import annotations

NINES = "9" * 200_000


# The verdict a careful grader gives where the answer can be read; every other case is uncertain 'too-large'.
READABLE = {
    "slow expansion": "wrong", "slow polynomial": "wrong", "exp tower": "wrong", "symbol tower": "wrong",
    "answer phrases": "wrong", "chinese phrases": "wrong", "null bytes": "correct", "emoji and marks": "correct",
    "integral": "correct", "wild limit": "wrong", "division by zero": "wrong", "zero to zero": "correct",
    "infinity minus infinity": "wrong", "float overflow": "wrong", "nan and inf": "wrong", "tan of pi over 2": "wrong",
    "huge gold and reply": "correct", "thousand-digit equality": "correct", "choice junk": "wrong",
    "line separators": "correct",
}


def hostile_pairs() -> list[tuple[str, str, str]]:
    """(name, gold, prediction) for every hostile case; the names say what each one attacks."""
    deep = "{" * 5_000 + "1" + "}" * 5_000
    cases = [
        ("huge exponent", "42", "\\boxed{1e999999999}"),
        ("200,000 nines", "42", f"\\boxed{{{NINES}}}"),
        ("nines unboxed", "42", f"so it is {NINES}"),
        ("nines as gold", f"#### {NINES}", "\\boxed{42}"),
        ("tiny exponent", "0", "\\boxed{1e-999999999}"),
        ("power tower", "42", "\\boxed{9^{9^{9^{9}}}}"),
        ("ten to ten to ten", "42", "\\boxed{10^{10^{10}}}"),
        ("big power", "42", "\\boxed{2^{100000000}}"),
        ("python power", "42", "\\boxed{2**99999999}"),
        ("big factorial", "42", "\\boxed{100000!}"),
        ("python factorial", "42", "\\boxed{factorial(10**9)}"),
        ("big binomial", "42", "\\boxed{\\binom{100000000}{50000000}}"),
        ("scientific huge", "42", "\\boxed{3 \\times 10^{99999999}}"),
        ("slow expansion", "$(x+y+z)^{40}$", "so it is \\boxed{(x+y+z+1)^{40}}"),
        ("slow polynomial", "$(a+b+c+d)^{30}$", "\\boxed{(a+b+c+d+1)^{30}}"),
        ("exp tower", "42", "\\boxed{e^{e^{e^{e^{10}}}}}"),
        ("symbol tower", "x", "\\boxed{x^{x^{x^{x^{x}}}}}"),
        ("deep braces", "1", f"\\boxed{{{deep}}}"),
        ("deep parens", "1", "\\boxed{" + "(" * 20_000 + "1" + ")" * 20_000 + "}"),
        ("unclosed parens", "1", "(" * 100_000),
        ("nested sqrt", "1", "\\boxed{" + "\\sqrt{" * 3_000 + "1" + "}" * 3_000 + "}"),
        ("nested frac", "1", "\\boxed{" + "\\frac{1}{" * 2_000 + "1" + "}" * 2_000 + "}"),
        ("nested text", "1", "\\boxed{" + "\\text{" * 5_000 + "1" + "}" * 5_000 + "}"),
        ("unclosed boxes", "1", "\\boxed{" * 20_000),
        ("bare box commands", "1", "\\boxed " * 20_000),
        ("empty boxes", "1", "\\boxed{}" * 20_000),
        ("dollar storm", "1", "$" * 100_000),
        ("dollar pairs", "1", "$1$ " * 30_000),
        ("frac storm", "1", "\\frac{" * 20_000),
        ("left storm", "1", "\\left(" * 20_000 + "1"),
        ("answer phrases", "1", "the answer is " * 20_000),
        ("chinese phrases", "1", "答案是" * 30_000),
        ("conclusions", "1", "Therefore " * 20_000 + "1"),
        ("bold storm", "1", "**1** " * 30_000),
        ("comma digits", "1", "1," * 100_000),
        ("space digits", "1", "1 000 " * 30_000),
        ("long number list", "1", " ".join(str(i) for i in range(60_000))),
        ("megabyte of x", "1", "x" * 1_000_000),
        ("megabyte of digits", "1", "7" * 1_000_000),
        ("null bytes", "1", "\x00" * 10_000 + "\\boxed{1}"),
        ("control characters", "1", "".join(chr(i) for i in range(32)) * 1000),
        ("emoji and marks", "1", "\u202e\u200b😀" * 10_000 + "\\boxed{1}"),
        ("huge matrix", "1", "\\boxed{\\begin{pmatrix}" + "\\\\".join(["&".join(["1"] * 300)] * 300) + "\\end{pmatrix}}"),
        ("huge sum", "42", "\\boxed{\\sum_{k=1}^{10^{100}} k}"),
        ("huge product", "42", "\\boxed{\\prod_{k=1}^{10^{9}} k}"),
        ("integral", "\\frac{\\sqrt{\\pi}}{2}", "\\boxed{\\int_0^\\infty e^{-x^2} dx}"),
        ("wild limit", "0", "\\boxed{\\lim_{x\\to 0} \\sin(1/x)}"),
        ("division by zero", "1", "\\boxed{\\frac{1}{0}}"),
        ("zero to zero", "1", "\\boxed{0^0}"),
        ("infinity minus infinity", "0", "\\boxed{\\infty - \\infty}"),
        ("long repeating decimal", "\\frac{1}{3}", "\\boxed{0.\\overline{" + "3" * 20_000 + "}}"),
        ("long decimal", "\\frac{1}{3}", "\\boxed{0." + "3" * 20_000 + "}"),
        ("float overflow", "42", "\\boxed{1e309}"),
        ("nan and inf", "42", "\\boxed{NaN} or \\boxed{inf}"),
        ("tan of pi over 2", "0", "\\boxed{\\tan(\\pi/2)}"),
        ("huge gold solution", "So $x = \\boxed{" + "1+" * 50_000 + "1}$", "\\boxed{50001}"),
        ("huge gold and reply", "#### " + "8" * 5_000, "\\boxed{" + "8" * 5_000 + "}"),
        ("thousand-digit equality", "#### " + "12" * 500, "\\boxed{" + "12" * 500 + ".0}"),
        ("choice junk", "B", "(" * 5_000 + "B" + ")" * 5_000),
        ("line separators", "1", "\u2028\u2029" * 20_000 + "\\boxed{1}"),
    ]
    assert len(cases) == 60, len(cases)
    return cases
