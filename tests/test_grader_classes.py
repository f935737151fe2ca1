"""The classes of grading failure issue 9 lists, each with cases of its own kind: full replies against
references, graded the way a careful person would."""

from __future__ import annotations

import pytest

from mathbench.core.grading import grade

# (class, reference, reply, verdict)
CASES = [
    # 1. a reply that is only an expression is that expression, not its last number
    ("expression", "\\frac{1}{2}", "\\frac{1}{2}", "correct"),
    ("expression", "2", "\\frac{1}{2}", "wrong"),
    ("expression", "10/9", "\\frac{10}{9}", "correct"),
    ("expression", "9", "10/9", "wrong"),
    ("expression", "\\frac{8}{3}", "\\tfrac83", "correct"),
    ("expression", "3", "\\tfrac83", "wrong"),
    ("expression", "1000", "1 000", "correct"),
    ("expression", "0", "1 000", "wrong"),
    ("expression", "-10/9", "-\\frac{10}{9}", "correct"),
    ("expression", "10, 4, -2", "4, 10, -2", "correct"),
    # 2. display math over several lines
    ("display", "$9$", "Answer \\[\n9\n\\]", "correct"),
    ("display", "$9$", "Answer $$\n9\n$$", "correct"),
    ("display", "$9$", "Answer \\(\n9\n\\)", "correct"),
    ("display", "$9$", "Answer $\n9\n$", "correct"),
    ("display", "$8$", "Answer \\[\n9\n\\]", "wrong"),
    # 3. letters and words, option letters in every usual form
    ("letters", "$\\text{E}$", "$E$", "correct"),
    ("letters", "$\\text{odd}$", "odd", "correct"),
    ("letters", "$\\text{odd}$", "$odd$", "correct"),
    ("letters", "$\\text{Even}$", "$Even$", "correct"),
    ("letters", "$\\text{odd}$", "$even$", "wrong"),
    ("letters", "B", "(B)", "correct"),
    ("letters", "B", "B.", "correct"),
    ("letters", "B", "B)", "correct"),
    ("letters", "B", "**B**", "correct"),
    ("letters", "B", "答案：B", "correct"),
    ("letters", "B", "选B", "correct"),
    ("letters", "C", "选B", "wrong"),
    ("letters", "C", "**B**", "wrong"),
    # 4. units, percent and text after the value
    ("units", "\\frac{1}{3}", "$\\frac{1}{3} \\text{meters}$", "correct"),
    ("units", "1/3", "$\\frac{1}{3} \\textbf{meters}$", "correct"),
    ("units", "64", "64 square feet", "correct"),
    ("units", "64", "65 square feet", "wrong"),
    ("units", "$28\\%$", "$28$ %", "correct"),
    ("units", "$28\\%$", "28 percent", "correct"),
    ("units", "$28\\%$", "$29$ %", "wrong"),
    # 5. structures: matrices however written; rounded entries are uncertain, never wrong
    ("structures", "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}",
     "$\\left[\\begin{array}{cc}1 & 2 \\\\ 3 & 4\\end{array}\\right]$", "correct"),
    ("structures", "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}",
     "$\\left[\\begin{array}{cc}1 & 2 \\\\ 3 & 5\\end{array}\\right]$", "wrong"),
    ("structures", "\\begin{pmatrix}\\frac{1}{3} \\\\ \\frac{1}{5}\\end{pmatrix}", "\\begin{pmatrix}0.33 \\\\ 0.2\\end{pmatrix}",
     "uncertain"),
    ("structures", "(\\frac{3}{5},\\frac{8}{3}]", "(0.6,2.6667]", "uncertain"),
    ("structures", "(\\frac{1}{3}, 2)", "(0.33, 2)", "uncertain"),
    ("structures", "(\\frac{1}{3}, 2)", "(0.5, 2)", "wrong"),
    # 6. relation chains: the final side is the answer
    ("chains", "$x = 11$", "$x = 5+5+1 = 7 = 11$", "correct"),
    ("chains", "$12$", "$x = 5+5+1 = 7 = 11$", "wrong"),
    ("chains", "$\\frac{1}{3}$", "$x = \\frac{1}{3} \\approx 0.33$", "correct"),
    # 7. hedges: two different final values are never correct
    ("hedges", "3", "I think it is 3 or maybe 2", "uncertain"),
    ("hedges", "2", "I think it is 3 or maybe 2", "uncertain"),
    ("hedges", "3", "The answer is 3 or maybe 2.", "uncertain"),
    ("hedges", "5", "I think it is 3 or maybe 2", "wrong"),
    ("hedges", "3", "So \\boxed{x = 3} or \\boxed{x = -3}", "uncertain"),
    # 8. an unmarked final sentence: uncertain when the gold is among its numbers, else wrong
    ("unmarked", "#### 3", "因此，需要3辆卡车才能运输80块石头。", "uncertain"),
    ("unmarked", "#### 80", "因此，需要3辆卡车才能运输80块石头。", "uncertain"),
    ("unmarked", "#### 5", "因此，需要3辆卡车才能运输80块石头。", "wrong"),
    ("unmarked", "#### 3", "因此，需要3辆卡车。", "correct"),
    ("unmarked", "#### 8", "所以，她一共有 5 + 3 = 8 个苹果。", "correct"),
    ("unmarked", "#### 8722", "89件T恤 * 98美元/件 = 8722美元 所以，他们赚了8722美元。", "correct"),
    # 9. number formats
    ("numbers", "1000", "1\u2009000", "correct"),
    ("numbers", "1000", "1\u202f000", "correct"),
    ("numbers", "1234567", "So the total is 1 234 567.", "correct"),
    ("numbers", "1000.99", "1000,99", "correct"),
    ("numbers", "1000.99", "1000,98", "wrong"),
    ("numbers", "2.74", "Soucis : 2,74 $ a..", "correct"),
    ("numbers", "1,22", "1.22", "correct"),
    ("numbers", "12345", "12,345", "correct"),
    # 10. answer phrases in more languages
    ("phrases", "42", "We add 40 and 2.\nThe answer is 42.", "correct"),
    ("phrases", "42", "先算40加2。\n答案是42。", "correct"),
    ("phrases", "42", "On ajoute 40 et 2.\nDonc la réponse est 42.", "correct"),
    ("phrases", "42", "Sumamos 40 y 2.\nPor lo tanto, la respuesta es 42.", "correct"),
    ("phrases", "42", "Wir addieren 40 und 2.\nAlso ist die Antwort 42.", "correct"),
    ("phrases", "42", "Wir addieren 40 und 2.\nDie Antwort lautet 42.", "correct"),
    ("phrases", "42", "40と2を足します。\nよって、答えは42です。", "correct"),
    ("phrases", "42", "Somamos 40 e 2.\nPortanto, a resposta é 42.", "correct"),
    ("phrases", "42", "Wir addieren 40 und 2.\nDie Antwort ist 41.", "wrong"),
    ("phrases", "42", "40と2を足します。\n答えは41です。", "wrong"),
]


@pytest.mark.parametrize("kind,reference,reply,verdict", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_failure_classes(kind, reference, reply, verdict):
    g = grade(reference, reply)
    assert g.verdict == verdict, g


def test_a_question_settles_an_unmarked_sentence():
    question = "每辆卡车能运30块石头，要运80块石头，至少需要几辆卡车？"
    reply = "因此，需要3辆卡车才能运输80块石头。"
    assert grade("#### 3", reply, question=question).verdict == "correct"
    assert grade("#### 4", reply, question=question).verdict == "wrong"


@pytest.mark.parametrize("reply", ["\\boxed{1e999999999}", "\\boxed{" + "9" * 200_000 + "}", "\\boxed{10^{10^{10}}}"])
def test_unreadably_large_answers_are_uncertain(reply):
    g = grade("42", reply, timeout=5.0)
    assert (g.verdict, g.reason) == ("uncertain", "too-large")
