"""Multiple-choice items: options in every shape benchmarks store them, the gold letter in any usual form,
the letter or the option text a reply gives, and two letters never counted right."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mathbench.core.grading import grade, normalize_choices

AQUA = ["A)5(√3 + 1)", "B)6(√3 + √2)", "C)7(√3 – 1)", "D)8(√3 – 2)", "E)None of these"]  # AQuA's `options`
MATHQA = "a ) 38 , b ) 27.675 , c ) 30 , d ) data inadequate , e ) 17.4"  # MathQA's `options`
TAL = [[{"aoVal": "A", "content": "$$4$$ "}], [{"aoVal": "B", "content": "$$5$$ "}], [{"aoVal": "C", "content": "$$6$$ "}]]
DICT = {"A": "1", "B": "2", "C": "3", "D": "4"}


@pytest.mark.parametrize(
    "choices,expected",
    [
        (AQUA, {"A": "5(√3 + 1)", "B": "6(√3 + √2)", "C": "7(√3 – 1)", "D": "8(√3 – 2)", "E": "None of these"}),
        (MATHQA, {"A": "38", "B": "27.675", "C": "30", "D": "data inadequate", "E": "17.4"}),
        (TAL, {"A": "$$4$$", "B": "$$5$$", "C": "$$6$$"}),
        (DICT, DICT),
        ({"a": "x", "b": "y"}, {"A": "x", "B": "y"}),
        (["x", "y", "z"], {"A": "x", "B": "y", "C": "z"}),
        ("A) $f(-6)=0$ B) $f(6)=-6$ C) $f(-6)=6$", {"A": "$f(-6)=0$", "B": "$f(6)=-6$", "C": "$f(-6)=6$"}),
        (json.dumps(["x", "y"]), {"A": "x", "B": "y"}),
        (None, None),
        ([], None),
    ],
)
def test_options_in_every_stored_shape(choices, expected):
    assert normalize_choices(choices) == expected


# (gold, reply, verdict, reason): the gold letter in any usual form, against every usual way to name a letter
LETTERS = [
    ("A", "So the answer is (A).", "correct", "choice"),
    ("A", "Answer: A", "correct", "choice"),
    ("A", "A. 5(√3+1)", "correct", "choice"),
    ("A", "A)", "correct", "choice"),
    ("A", "**A**", "correct", "choice"),
    ("A", "答案：A", "correct", "choice"),
    ("A", "选A", "correct", "choice"),
    ("A", "故选：A。", "correct", "choice"),
    ("A", "\\boxed{A}", "correct", "choice"),
    ("A", "\\boxed{\\text{(A)}}", "correct", "choice"),
    ("A", "$\\textbf{(A)}$ is right, so the correct option is A", "correct", "choice"),
    ("(A)", "Réponse : A", "correct", "choice"),
    ("a", "the answer is (a)", "correct", "choice"),
    ("A", "The answer is B.", "wrong", "choice"),
    ("A", "选B", "wrong", "choice"),
    ("A", "It is A or B.", "uncertain", "several-choices"),
    ("A", "\\boxed{A, B}", "uncertain", "several-choices"),
    ("A", "The answer is A or B", "uncertain", "several-choices"),
    ("A", "The time is \\boxed{5(\\sqrt{3}+1)} minutes.", "correct", "choice-text"),
    ("A", "The time is \\boxed{6(\\sqrt{3}+\\sqrt{2})} minutes.", "wrong", "choice-text"),
    ("A", "The time is \\boxed{12} minutes.", "wrong", "not-an-option"),
    ("A", "I cannot tell.", "wrong", "not-an-option"),
]


@pytest.mark.parametrize("gold,reply,verdict,reason", LETTERS)
def test_letter_forms_with_aqua_options(gold, reply, verdict, reason):
    g = grade(gold, reply, choices=AQUA)
    assert (g.verdict, g.reason) == (verdict, reason), g


@pytest.mark.parametrize(
    "gold,reply,choices,verdict",
    [
        ("b", "So the answer is 27.675", MATHQA, "correct"),
        ("b", "So the answer is 30", MATHQA, "wrong"),
        ("C", "答案为 \\boxed{6}", TAL, "correct"),
        ("C", "答案为 \\boxed{5}", TAL, "wrong"),
        (2, "The answer is C", ["x", "y", "z", "w"], "correct"),  # an MMLU-style index
        (2, "The answer is B", ["x", "y", "z", "w"], "wrong"),
        ("3", "故选：C", DICT, "correct"),  # the gold given as the text of its option
        ("C. {x \\mid -3<x<4}", "选C", None, "correct"),  # GAOKAO's answer field: letter and option text
    ],
)
def test_gold_and_options_in_other_shapes(gold, reply, choices, verdict):
    assert grade(gold, reply, choices=choices).verdict == verdict


def test_grade_command_reads_choices(tmp_path, repo_root):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [
        {"gold": "E", "prediction": "Answer: E", "choices": AQUA},
        {"gold": "b", "prediction": "27.675 is what we get", "choices": MATHQA},
        {"gold": "C", "prediction": "it could be A or C", "choices": DICT},
        {"gold": 0, "prediction": "\\boxed{B}", "choices": ["x", "y"]},
    ]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "mathbench.tui", "grade", str(src), "-o", str(out), "--json"],
                       cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n") if line]
    assert [(g["verdict"], g["gold_answer"]) for g in got] == [
        ("correct", "E"), ("correct", "B"), ("uncertain", "C"), ("wrong", "A")]
    assert got[0]["choices"] == AQUA  # the input line rides along
    assert json.loads(r.stdout) == {"total": 4, "correct": 2, "wrong": 1, "uncertain": 1, "accuracy": 0.5}


def test_grade_command_names_bad_choices(tmp_path, repo_root):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"gold": "A", "prediction": "A", "choices": 7}) + "\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "mathbench.tui", "grade", str(src)],
                       cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and f"{src}:1: field 'choices'" in r.stderr
