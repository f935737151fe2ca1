"""The grader's rules, one hard case at a time: extraction, normalisation, equivalence, verdicts and reasons."""

from __future__ import annotations

import pytest

from mathbench.core.grading import extract_answer, extract_gold, grade, grade_answer

# (reply, expected answer, expected rule)
EXTRACTION = [
    ("因此，Janet每天的收入是 \\(\\boxed{18}\\) 美元。", "18", "boxed"),
    ("so \\boxed{\\frac{1}{\\sqrt{2}}} is it", "\\frac{1}{\\sqrt{2}}", "boxed"),
    ("nested \\boxed{\\left(\\frac{a}{b}, \\{1\\}\\right)}.", "\\left(\\frac{a}{b}, \\{1\\}\\right)", "boxed"),
    ("first \\boxed{3} then \\boxed{5}", "5", "boxed"),
    ("the roots are $\\boxed{-2}$ and $\\boxed{1}$.", "-2, 1", "boxed"),
    ("\\fbox{7} done", "7", "boxed"),
    ("so it is \\boxed 5.", "5", "boxed"),
    ("He pays 3*6=18\n#### 1,080", "1,080", "gsm8k-hash"),
    ("Thus, the answer is $\\frac{1}{2}$.", "\\frac{1}{2}", "answer-is"),
    ("The final answer is 42 because of reasons.", "42", "answer-is"),
    ("所以答案是 15 个苹果。", "15", "answer-is"),
    ("答案：每份应该是 (\\frac{2}{5}) 吨。", "\\frac{2}{5}", "answer-is"),
    ("答案：点的坐标是 (2, 3) 。", "(2, 3)", "answer-is"),
    ("因此，需要3辆卡车", "3", "chinese-conclusion"),
    ("We compute 2+2.\nSo she pays $18 in total.", "18", "conclusion"),
    ("we get 4 and then 17 here", "17", "last-number"),
    ("ERROR", None, "none"),
    ("", None, "none"),
    ("```python\nx = 5\nprint(x)\n```", None, "none"),
]


@pytest.mark.parametrize("reply,answer,rule", EXTRACTION)
def test_extract_answer(reply, answer, rule):
    ext = extract_answer(reply)
    assert (ext.answer, ext.rule) == (answer, rule)


def test_extract_answer_keeps_every_box_as_candidate():
    ext = extract_answer("红色 \\boxed{6} 个，蓝色 \\boxed{4} 个")
    assert ext.answer == "4" and ext.candidates == ["6", "4"]


@pytest.mark.parametrize(
    "reference,gold",
    [
        ("Janet sells 16 - 3 - 4 = 9 duck eggs.\n#### 1,080", "1080"),
        ("So the sum is $\\boxed{\\frac{14}{3}}$.", "\\frac{14}{3}"),
        ("Therefore, the answers are $\\boxed{-2}$ and $\\boxed{1}$.", "-2, 1"),
        ("it is $\\boxed{13}$.\n\n- OR -\n\nso the hypotenuse is $\\boxed{13}$.", "13"),
        ("  \\frac{1}{3} ", "\\frac{1}{3}"),
        ("", None),
    ],
)
def test_extract_gold(reference, gold):
    assert extract_gold(reference) == gold


# (gold answer, predicted answer, verdict, reason)
ANSWERS = [
    # plain numbers, GSM8K style
    ("1080", "1,080", "correct", "exact"),
    ("18", "18.0", "correct", "exact"),
    ("9", "9.00", "correct", "exact"),
    ("8", "\\$8.00", "correct", "exact"),
    ("18", "$18", "correct", "exact"),
    ("18", "18美元", "correct", "exact"),
    ("18", "18 dollars", "correct", "exact"),
    ("25", "25\\%", "correct", "exact"),
    ("30", "30^\\circ", "correct", "exact"),
    ("30", "30°", "correct", "exact"),
    ("5", "5\\text{ cm}^2", "correct", "exact"),
    ("5", "x = 5", "correct", "exact"),
    ("18", "3 \\times 6 = 18", "correct", "exact"),
    ("-3", "-3", "correct", "exact"),
    ("9", "9.50", "wrong", "not-equal"),
    ("2", "2.75", "wrong", "not-equal"),
    ("3", "2.5", "wrong", "not-equal"),
    ("33", "33.33", "wrong", "not-equal"),
    ("18", "17.99", "wrong", "not-equal"),
    ("18", "17.999999999999996", "correct", "numeric-6sig"),
    ("2", "2:00 pm", "correct", "time"),
    ("14", "2:00 pm", "correct", "time"),
    ("3", "2:00 pm", "wrong", "not-equal"),
    # printed floats from executed code against exact golds
    ("\\frac{1}{3}", "0.3333333333", "correct", "numeric-6sig"),
    ("\\frac{1}{3}", "0.333333", "correct", "numeric-6sig"),
    ("\\frac{1}{3}", "0.33", "uncertain", "float-close-not-equal"),
    ("\\frac{1}{3}", "0.34", "wrong", "not-equal"),
    ("10\\pi", "31.4159", "correct", "numeric-6sig"),
    ("10\\pi", "31.41592653589793", "correct", "numeric-6sig"),
    ("10\\pi", "31.4", "uncertain", "float-close-not-equal"),
    ("10\\pi", "31.5", "wrong", "not-equal"),
    ("\\frac{\\sqrt{3}}{2}", "0.8660254037844386", "correct", "numeric-6sig"),
    ("2\\sqrt{2}", "2.8284271247461903", "correct", "numeric-6sig"),
    ("\\frac{1}{4}", "0.25", "correct", "exact"),
    ("\\frac{1}{4}", "0.26", "wrong", "not-equal"),
    ("2.5", "\\frac{5}{2}", "correct", "exact"),
    ("4.3", "4.285714", "uncertain", "rounds-to-gold"),
    ("25\\%", "0.25", "uncertain", "percent-scale"),
    ("2\\frac{1}{4}", "2.25", "correct", "exact"),
    # symbolic forms
    ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", "correct", "symbolic"),
    ("10\\sqrt{2}", "\\sqrt{200}", "correct", "symbolic"),
    ("x^2+2x+1", "(x+1)^2", "correct", "symbolic"),
    ("y = 2x + 3", "2x+3", "correct", "symbolic"),
    ("5x-7y+11z+4=0", "x+y-z+2=0", "wrong", "not-equal"),
    ("5x-7y+11z+4=0", "5x-7y+11z+4=0", "correct", "exact"),
    ("(-\\infty, 3]", "(-\\infty,3]", "correct", "exact"),
    ("[2,5)", "x \\in [2, 5)", "correct", "exact"),
    ("(0, 2)", "[0, 2]", "wrong", "not-equal"),
    ("(1, 2)", "(2, 1)", "wrong", "not-equal"),
    ("-2, 1", "1, -2", "correct", "symbolic"),
    ("\\{1, 2, 3\\}", "\\{3, 2, 1\\}", "correct", "symbolic"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1, 2)", "correct", "symbolic"),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", "correct", "exact"),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}", "wrong", "not-equal"),
    ("3+4i", "4i+3", "correct", "symbolic"),
    ("\\text{(C)}", "C", "correct", "choice"),
    ("C", "(C)", "correct", "choice"),
    ("C", "B", "wrong", "choice"),
    ("\\text{Devon}", "Devon", "correct", "exact"),
    ("\\text{even}", "\\text{odd}", "wrong", "text-mismatch"),
    ("1011_2", "1011", "correct", "exact"),
    ("\\infty", "\\infty", "correct", "exact"),
    # answers printed by Python / sympy, unicode and Chinese joiners, scale and number words
    ("\\frac{\\sqrt{2}}{2}", "sqrt(2)/2", "correct", "symbolic"),
    ("\\frac{\\pi}{4}", "pi/4", "correct", "symbolic"),
    ("x^2+1", "x**2 + 1", "correct", "symbolic"),
    ("\\infty", "oo", "correct", "symbolic"),
    ("3+2i", "3+2j", "correct", "symbolic"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "Matrix([[1], [2]])", "correct", "symbolic"),
    ("2, 3", "[2, 3]", "correct", "exact"),
    ("2, 3", "x=2或x=3", "correct", "exact"),
    ("5\\sqrt{3}", "5√3", "correct", "exact"),
    ("(-\\infty, 1) \\cup (2, \\infty)", "(-∞, 1) ∪ (2, ∞)", "correct", "exact"),
    ("30000", "3万", "correct", "exact"),
    ("3000000", "3 million", "correct", "exact"),
    ("5", "\\text{five}", "correct", "exact"),
    ("0.001", "10^{-3}", "correct", "symbolic"),
    ("\\emptyset", "\\varnothing", "correct", "exact"),
    ("11,\\! 111,\\! 100", "11111100", "correct", "exact"),
    ("12\\text{ and }13", "12, 13", "correct", "exact"),
    ("\\text{Friday}", "x = \\text{Friday}", "correct", "exact"),
    # repeating decimals, powers of unit words, plain-text mixed numbers, function names, upright e
    ("\\frac{4}{3}", "1.\\overline{3}", "correct", "exact"),
    ("\\frac{4}{11}", "0.\\overline{36}", "correct", "exact"),
    ("\\frac{1}{6}", "0.1\\overline{6}", "correct", "exact"),
    ("\\frac{1}{3}", "0.\\overline{36}", "wrong", "not-equal"),
    ("10", "10 cm^2", "correct", "exact"),
    ("10 cm^{3}", "10", "correct", "exact"),
    ("10", "11 cm^2", "wrong", "not-equal"),
    ("1.5", "1 1/2", "correct", "exact"),
    ("1\\frac{1}{2}", "1 1/2", "correct", "exact"),
    ("1\\frac{1}{2}", "1 1/3", "wrong", "not-equal"),
    ("f(x) = 2x + 3", "y = 2x + 3", "correct", "exact"),
    ("g(x) = x^2", "y = x \\cdot x", "correct", "symbolic"),
    ("f(x) = 2x + 3", "y = 2x + 4", "wrong", "not-equal"),
    ("1 - \\frac{1}{\\mathrm{e}}", "1 + \\frac{1}{\\mathrm{e}}", "wrong", "not-equal"),
    ("1 - \\frac{1}{\\mathrm{e}}", "1 - e^{-1}", "correct", "symbolic"),
    # nothing to compare
    ("5", "", "wrong", "no-answer-found"),
    ("", "5", "uncertain", "no-gold"),
]


@pytest.mark.parametrize("gold,pred,verdict,reason", ANSWERS)
def test_grade_answer(gold, pred, verdict, reason):
    g = grade_answer(gold, pred)
    assert (g.verdict, g.reason) == (verdict, reason), g


# (reference, full reply, verdict, reason)
REPLIES = [
    ("#### 18", "因此，Janet每天在农民市场出售鸡蛋的收入是 \\(\\boxed{18}\\) 美元。", "correct", "exact"),
    ("#### 3", "因此，制作一件长袍总共需要 \\(\\boxed{2.5}\\) 卷纤维。", "wrong", "not-equal"),
    ("#### 142", "Clara \\(\\boxed{398}\\)美元，Sheila \\(\\boxed{540.0}\\)美元，差值是\\(\\boxed{142.0}\\)美元。", "correct", "exact"),
    ("#### 128", "Jeff现在有 \\(\\boxed{86}\\) 个玻璃杯和 \\(\\boxed{42}\\) 个盘子。", "wrong", "not-equal"),
    ("#### 86", "Jeff现在有 \\(\\boxed{86}\\) 个玻璃杯和 \\(\\boxed{42}\\) 个盘子。", "uncertain", "several-candidates"),
    ("#### 25", "Ava和Emma的得分差是 \\(\\boxed{-25}\\)。", "uncertain", "sign-differs"),
    ("#### 5", "ERROR", "wrong", "no-answer-found"),
    ("#### 200", "因此，Polly可以站在2200英尺之外，持有宝石时仍能投掷金标枪击中龙。", "wrong", "not-equal"),
    ("#### 3", "因此，需要3辆卡车", "correct", "exact"),
    ("#### 2", "print('x')\n```python\nx = 2\n```", "wrong", "no-answer-found"),
    ("The roots are $\\boxed{-2}$ and $\\boxed{1}$.", "so $x=\\boxed{1}$ or $x=\\boxed{-2}$", "correct", "symbolic"),
    ("The roots are $\\boxed{-2}$ and $\\boxed{1}$.", "the root is $\\boxed{1}$", "wrong", "not-equal"),
    ("$\\text{(B)}$", "计算得 \\(\\boxed{(5, 4)}\\)。因此，答案选项为 B. $(5, 4)$.", "correct", "choice"),
    ("$9$", "Answer \\[ 9 \\]", "correct", "exact"),
    ("$x < 3$", "Let me solve this carefully. We find that $x \\lt 3$.", "correct", "symbolic"),
    ("$(7, 6)$", "So the solution of the system is $(7, 6)$.", "correct", "exact"),
    ("$34$", "Final Answer: The largest $n$ is 34.", "correct", "exact"),
    ("$10455$", "so $\\boxed{255}$ more. Final Answer: The final answer is $10,455$. I hope it is correct.", "correct", "exact"),
    ("$\\frac{130}{231}$", "$=\\boxed{\\frac{130}{231}}$. The final answer is positive, because both are negative.", "correct", "exact"),
    ("$(2, 2), (6, 2)$", "$$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$$", "correct", "exact"),
    ("$D$", "The answer is for sure D, it can't be A or B", "correct", "choice"),
    ("$\\frac{1}{3}$", "The code printed 0.3333333333333333, so the answer is \\boxed{0.3333333333333333}.", "correct", "numeric-6sig"),
]


@pytest.mark.parametrize("reference,reply,verdict,reason", REPLIES)
def test_grade_full_texts(reference, reply, verdict, reason):
    g = grade(reference, reply)
    assert (g.verdict, g.reason) == (verdict, reason), g


def test_grade_to_dict_has_the_contract_fields():
    d = grade("#### 1,080", "\\boxed{1080}").to_dict()
    assert d == {"verdict": "correct", "reason": "exact", "gold_answer": "1080", "pred_answer": "1080"}


def test_last_number_far_from_the_end_is_not_trusted():
    reply = "Step 1: we have 20 chickens.\nStep 2: each eats 3 cups.\n\n   - 所以，这一步\n继续计算中"
    g = grade("#### 3", reply)
    assert g.verdict == "uncertain" and g.reason == "last-number-only"
