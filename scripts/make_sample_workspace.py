"""Write data/sample_workspace/{benchmarks,runs}: 40 problems and two graded runs of scripted PoT replies.

The problems and replies were written for mathbench. Every code block is really executed by
core.sandbox and every verdict is what core.grading says, so the sample shows the grader as it is.
Run: .venv/bin/python scripts/make_sample_workspace.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mathbench.core.resources import SAMPLE_WORKSPACE_DIR  # noqa: E402

# Each problem: id, question, gold reference (GSM8K "#### n" or a MATH solution), level/subject for
# MATH-style items, the correct program, and how the two runs answered (style and, for a run that
# went wrong, its own program).
GSM = [
    dict(id="gsm-01", q="A bakery makes 24 muffins each morning. It sells 3/4 of them before noon and gives 2 of the rest to a shelter. How many muffins are left?",
         a="It sells 24 * 3/4 = 18 muffins, so 24 - 18 = 6 remain.\nAfter giving 2 away, 6 - 2 = 4 are left.\n#### 4",
         code="muffins = 24\nsold = muffins * 3 // 4\nleft = muffins - sold - 2\nprint(left)",
         new="pot-zh", old="pot-zh"),
    dict(id="gsm-02", q="Lena reads 18 pages a day. Her book has 342 pages. How many days does she need to finish it?",
         a="342 / 18 = 19 days.\n#### 19",
         code="print(342 // 18 + (342 % 18 > 0))",
         new="pot-en", old="direct-boxed"),
    dict(id="gsm-03", q="A train ticket costs $12.50 for an adult and $7.25 for a child. How much does a family of 2 adults and 3 children pay?",
         a="Adults: 2 * 12.50 = 25. Children: 3 * 7.25 = 21.75. Total 25 + 21.75 = 46.75.\n#### 46.75",
         code="total = 2 * 12.50 + 3 * 7.25\nprint(total)",
         new="pot-zh", old="pot-zh", old_code="total = 2 * 12.50 + 2 * 7.25\nprint(total)"),
    dict(id="gsm-04", q="题目：农场有156个鸡蛋，每12个装一盒。一共可以装多少盒？",
         a="156 / 12 = 13\n#### 13",
         code="print(156 // 12)",
         new="zh-conclusion", old="pot-zh"),
    dict(id="gsm-05", q="Tom earns $18 an hour. He works 7.5 hours a day, 5 days a week. How much does he earn in a week?",
         a="18 * 7.5 = 135 a day; 135 * 5 = 675 a week.\n#### 675",
         code="print(18 * 7.5 * 5)",
         new="pot-en", old="pot-en"),
    dict(id="gsm-06", q="A water tank holds 1,200 liters and is 35% full. How many more liters are needed to fill it?",
         a="It holds 1200 * 0.35 = 420 liters, so 1200 - 420 = 780 more are needed.\n#### 780",
         code="capacity = 1200\nprint(capacity - capacity * 35 / 100)",
         new="pot-zh", old="pot-zh", old_code="capacity = 1200\nprint(capacity * 35 / 100)"),
    dict(id="gsm-07", q="A school has 480 students. 5/8 of them take the bus and the rest walk. How many students walk?",
         a="480 * 5/8 = 300 take the bus; 480 - 300 = 180 walk.\n#### 180",
         code="students = 480\nprint(students - students * 5 // 8)",
         new="pot-zh", old="pot-zh"),
    dict(id="gsm-08", q="A jacket costs $80. It is discounted by 15%, then an 8% sales tax is added. What is the final price?",
         a="80 * 0.85 = 68; 68 * 1.08 = 73.44.\n#### 73.44",
         code="price = 80 * (1 - 0.15)\nprice *= 1.08\nprint(round(price, 2))",
         new="pot-en", old="pot-en", old_code="price = 80 * (1 - 0.15 + 0.08)\nprint(round(price, 2))"),
    dict(id="gsm-09", q="Mia has three times as many stickers as Ben. Together they have 64 stickers. How many stickers does Mia have?",
         a="Ben has 64 / 4 = 16, Mia has 3 * 16 = 48.\n#### 48",
         code="ben = 64 / 4\nprint(3 * ben)",
         new="several-boxes", old="pot-zh"),
    dict(id="gsm-10", q="A car travels 225 km in 2.5 hours. At the same speed, how far does it go in 4 hours?",
         a="Speed 225 / 2.5 = 90 km/h; 90 * 4 = 360 km.\n#### 360",
         code="speed = 225 / 2.5\nprint(f'{speed * 4} km')",
         new="pot-en-units", old="pot-en-units"),
    dict(id="gsm-11", q="题目：每辆卡车能运8吨货物，要运走50吨货物，至少需要多少辆卡车？",
         a="50 / 8 = 6.25, so 7 trucks are needed.\n#### 7",
         code="import math\nprint(math.ceil(50 / 8))",
         new="zh-conclusion", old="pot-zh", old_code="print(50 / 8)"),
    dict(id="gsm-12", q="The sum of three consecutive integers is 96. What is the largest of them?",
         a="n + (n+1) + (n+2) = 96 gives n = 31; the largest is 33.\n#### 33",
         code="n = (96 - 3) // 3\nprint(n + 2)",
         new="pot-en", old="pot-en", old_code="n = (96 - 3) // 3\nprint(n)"),
    dict(id="gsm-13", q="A garden is 14 m long and 9 m wide. Fencing costs $6 per meter. How much does it cost to fence the garden?",
         a="Perimeter 2 * (14 + 9) = 46 m; 46 * 6 = 276 dollars.\n#### 276",
         code="print(2 * (14 + 9) * 6)",
         new="pot-zh", old="pot-zh"),
    dict(id="gsm-14", q="Four workers paint a house in 6 days. How many days would 3 workers take at the same rate?",
         a="4 * 6 = 24 worker-days; 24 / 3 = 8 days.\n#### 8",
         code="print(4 * 6 / 3)",
         new="pot-zh", old="pot-zh", old_code="print(6 * 3 / 4)"),
    dict(id="gsm-15", q="Sara saves $15 in the first week and each week $5 more than the week before. How much has she saved after 8 weeks?",
         a="15 + 20 + ... + 50 = 8 * (15 + 50) / 2 = 260.\n#### 260",
         code="print(sum(15 + 5 * k for k in range(8)))",
         new="pot-buggy", old="pot-zh"),
    dict(id="gsm-16", q="A phone plan costs $20 a month plus $0.10 for every minute over 300. What is the bill for 450 minutes?",
         a="150 extra minutes cost 15 dollars; 20 + 15 = 35.\n#### 35",
         code="print(20 + max(0, 450 - 300) * 0.10)",
         new="pot-en", old="error"),
    dict(id="gsm-17", q="A warehouse ships 45 boxes with 24 pens in each box. How many pens does it ship?",
         a="45 * 24 = 1,080 pens.\n#### 1,080",
         code="print(f'{45 * 24:,}')",
         new="pot-zh", old="pot-zh"),
    dict(id="gsm-18", q="The average of four test scores is 86. Three of them are 78, 85 and 92. What is the fourth score?",
         a="4 * 86 = 344; 344 - (78 + 85 + 92) = 89.\n#### 89",
         code="print(4 * 86 - (78 + 85 + 92))",
         new="pot-en", old="pot-en", old_code="print((78 + 85 + 92) / 3)"),
    dict(id="gsm-19", q="A rope 7.5 m long is cut into pieces 0.6 m long. How many whole pieces can be cut?",
         a="7.5 / 0.6 = 12.5, so 12 whole pieces.\n#### 12",
         code="print(7.5 / 0.6)",
         new="pot-zh", old="pot-zh"),
    dict(id="gsm-20", q="Anna is 4 years older than twice Ben's age. Ben is 13. How old is Anna?",
         a="2 * 13 + 4 = 30.\n#### 30",
         code="print(2 * 13 + 4)",
         new="no-answer", old="pot-zh"),
]

MATH = [
    dict(id="math-01", level="Level 2", type="Algebra", q="Solve for $x$: $3x - 7 = 11$.",
         a="Adding 7 gives $3x = 18$, so $x = \\boxed{6}$.",
         code="from sympy import symbols, solve\nx = symbols('x')\nprint(solve(3*x - 7 - 11, x)[0])",
         new="pot-en", old="pot-en"),
    dict(id="math-02", level="Level 3", type="Algebra", q="What is the sum of the roots of $x^2 - 5x + 6 = 0$?",
         a="By Vieta, the sum is $\\boxed{5}$.",
         code="from sympy import symbols, solve\nx = symbols('x')\nprint(sum(solve(x**2 - 5*x + 6, x)))",
         new="pot-zh", old="pot-zh", old_code="from sympy import symbols, solve\nx = symbols('x')\nprint(solve(x**2 - 5*x + 6, x))"),
    dict(id="math-03", level="Level 4", type="Algebra", q="Express $\\frac{1}{2}+\\frac{1}{4}+\\cdots+\\frac{1}{2^{10}}$ as a common fraction.",
         a="A geometric series: $1 - \\frac{1}{2^{10}} = \\boxed{\\frac{1023}{1024}}$.",
         code="print(sum(1 / 2**k for k in range(1, 11)))",
         new="pot-zh", old="pot-zh", new_code="print(round(sum(1 / 2**k for k in range(1, 11)), 3))"),
    dict(id="math-04", level="Level 2", type="Counting & Probability", q="In how many ways can 3 books be chosen from 8 different books?",
         a="$\\binom{8}{3} = \\boxed{56}$.",
         code="from math import comb\nprint(comb(8, 3))",
         new="pot-en", old="pot-en", old_code="from math import perm\nprint(perm(8, 3))"),
    dict(id="math-05", level="Level 4", type="Counting & Probability", q="Two fair dice are rolled. What is the probability that the sum is 7? Express your answer as a common fraction.",
         a="6 of the 36 outcomes sum to 7, so the probability is $\\boxed{\\frac{1}{6}}$.",
         code="hits = sum(1 for a in range(1, 7) for b in range(1, 7) if a + b == 7)\nprint(hits / 36)",
         new="pot-zh", old="pot-zh", old_code="hits = sum(1 for a in range(1, 7) for b in range(1, 7) if a + b == 7)\nprint(round(hits / 36, 2))",
         new_code="hits = sum(1 for a in range(1, 7) for b in range(1, 7) if a + b == 7)\nprint(round(hits / 36, 4))"),
    dict(id="math-06", level="Level 5", type="Counting & Probability", q="How many distinct arrangements of the letters in BANANA are there?",
         a="$\\frac{6!}{3!\\,2!} = \\boxed{60}$.",
         code="from math import factorial\nprint(factorial(6) // (factorial(3) * factorial(2)))",
         new="pot-en", old="pot-en", old_code="from math import factorial\nprint(factorial(6) // factorial(3))"),
    dict(id="math-07", level="Level 3", type="Geometry", q="What is the area of a circle of radius 5? Express your answer in terms of $\\pi$.",
         a="$\\pi r^2 = \\boxed{25\\pi}$.",
         code="import math\nprint(round(math.pi * 5**2, 2))",
         new="pot-zh", old="pot-zh", old_code="import math\nprint(math.pi * 5**2)"),
    dict(id="math-08", level="Level 2", type="Geometry", q="A right triangle has legs 5 and 12. How long is its hypotenuse?",
         a="$\\sqrt{25 + 144} = \\boxed{13}$.",
         code="import math\nprint(math.hypot(5, 12))",
         new="pot-en", old="pot-en"),
    dict(id="math-09", level="Level 4", type="Geometry", q="What is the length of a diagonal of a square with side 6? Express your answer in simplest radical form.",
         a="$6\\sqrt{2}$, so the answer is $\\boxed{6\\sqrt{2}}$.",
         code="import math\nprint(6 * math.sqrt(2))",
         new="pot-zh", old="direct-boxed-text", old_answer="6\\sqrt{3}"),
    dict(id="math-10", level="Level 3", type="Intermediate Algebra", q="Find the remainder when $x^4 + 3x^2 - 2$ is divided by $x - 2$.",
         a="By the remainder theorem it is $16 + 12 - 2 = \\boxed{26}$.",
         code="f = lambda x: x**4 + 3*x**2 - 2\nprint(f(2))",
         new="pot-en", old="pot-en"),
    dict(id="math-11", level="Level 5", type="Intermediate Algebra", q="Solve $x^2 - 4 < 0$. Give your answer in interval notation.",
         a="$-2 < x < 2$, that is $\\boxed{(-2,2)}$.",
         code="from sympy import symbols, solve_univariate_inequality, S\nx = symbols('x', real=True)\nprint(solve_univariate_inequality(x**2 - 4 < 0, x, relational=False))",
         new="pot-en", old="pot-en", old_code="from sympy import symbols, solve\nx = symbols('x')\nprint(solve(x**2 - 4, x))"),
    dict(id="math-12", level="Level 1", type="Number Theory", q="What is the greatest common divisor of 84 and 126?",
         a="$84 = 2^2\\cdot 3\\cdot 7$, $126 = 2\\cdot 3^2\\cdot 7$, so the gcd is $\\boxed{42}$.",
         code="import math\nprint(math.gcd(84, 126))",
         new="pot-zh", old="pot-zh"),
    dict(id="math-13", level="Level 3", type="Number Theory", q="What is the remainder when $2^{100}$ is divided by 7?",
         a="$2^3 \\equiv 1$, and $100 = 3\\cdot 33 + 1$, so the remainder is $\\boxed{2}$.",
         code="print(pow(2, 100, 7))",
         new="pot-zh", old="pot-zh", old_code="print(pow(2, 100, 7) + 1)"),
    dict(id="math-14", level="Level 4", type="Number Theory", q="What is the sum of all positive divisors of 360?",
         a="$\\sigma(360) = (1+2+4+8)(1+3+9)(1+5) = \\boxed{1170}$.",
         code="print(sum(d for d in range(1, 361) if 360 % d == 0))",
         new="pot-en", old="pot-en"),
    dict(id="math-15", level="Level 1", type="Prealgebra", q="What is 15% of 80?",
         a="$0.15 \\cdot 80 = \\boxed{12}$.",
         code="print(0.15 * 80)",
         new="pot-zh", old="pot-zh"),
    dict(id="math-16", level="Level 2", type="Prealgebra", q="Simplify $\\frac{84}{126}$.",
         a="Dividing by 42 gives $\\boxed{\\frac{2}{3}}$.",
         code="from fractions import Fraction\nprint(Fraction(84, 126))",
         new="pot-zh", old="pot-zh"),
    dict(id="math-17", level="Level 3", type="Prealgebra", q="Write $0.375$ as a common fraction in lowest terms.",
         a="$0.375 = \\frac{375}{1000} = \\boxed{\\frac{3}{8}}$.",
         code="from fractions import Fraction\nprint(Fraction('0.375'))",
         new="pot-en", old="pot-en"),
    dict(id="math-18", level="Level 2", type="Precalculus", q="Compute $\\sin 30^\\circ + \\cos 60^\\circ$.",
         a="$\\frac12 + \\frac12 = \\boxed{1}$.",
         code="import math\nprint(math.sin(math.radians(30)) + math.cos(math.radians(60)))",
         new="pot-zh", old="pot-zh"),
    dict(id="math-19", level="Level 4", type="Precalculus", q="Convert the point $\\left(2, \\frac{\\pi}{3}\\right)$ in polar coordinates to rectangular coordinates.",
         a="$(2\\cos\\frac{\\pi}{3}, 2\\sin\\frac{\\pi}{3}) = \\boxed{(1,\\sqrt{3})}$.",
         code="import math\nr, t = 2, math.pi / 3\nprint((r * math.cos(t), r * math.sin(t)))",
         new="pot-en", old="pot-en",
         new_code="import math\nr, t = 2, math.pi / 3\nprint((round(r * math.cos(t), 3), round(r * math.sin(t), 3)))"),
    dict(id="math-20", level="Level 5", type="Algebra", q="Find all solutions of $|2x - 3| = 7$.",
         a="$2x - 3 = 7$ or $2x - 3 = -7$, so $x = \\boxed{-2, 5}$.",
         code="from sympy import symbols, solve, Abs\nx = symbols('x', real=True)\nprint(solve(Abs(2*x - 3) - 7, x))",
         new="pot-zh", old="pot-zh", old_code="print((7 + 3) / 2)"),
]

RUNS = {
    "demo-pot-v2": dict(key="new", model="demo-pot-v2", created=1764000000.0,
                        note="the newer checkpoint; finished, with uncertain items left to adjudicate"),
    "demo-pot-v1": dict(key="old", model="demo-pot-v1", created=1763900000.0,
                        note="the earlier checkpoint, to compare against"),
}

FINAL = {
    "pot-zh": "因此，答案是 $\\boxed{{{ans}}}$。",
    "pot-en": "The code prints {out}, so the answer is $\\boxed{{{ans}}}$.",
    "pot-en-units": "The car covers {out}. The answer is $\\boxed{{{ans}}}$.",
    "zh-conclusion": "因此，答案是{ans}。",
}
OPENING = {
    "zh": "我们用 Python 来计算。\n```python\n{code}\n```",
    "en": "Let me compute this with Python.\n```python\n{code}\n```",
}


def _fake_seconds(pid: str, salt: str, low: float, high: float) -> float:
    """A fixed, spread-out number for latency: the sample must not change between generations."""
    h = int(hashlib.sha256(f"{pid}/{salt}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return round(low + (high - low) * h, 3)


def _tokens(text: str) -> int:
    return max(1, len(text) // 3)


def build_record(problem: dict, style: str, code: str, *, run_key: str, template, sandbox, grade) -> dict:
    """Play one scripted PoT conversation, execute its code for real and grade the final reply."""
    from mathbench.core.evaluation.pot import observation_message

    question = problem["q"]
    is_math = "level" in problem
    gold_ref = problem["a"]
    messages = template.initial_messages(question)
    executions: list[dict] = []
    error = None
    lang = "zh" if style.startswith(("pot-zh", "zh")) or "题目" in question else "en"

    def run_block(source: str) -> dict:
        result = sandbox.run_python(source, timeout=20.0)
        execution = {"code": source, "stdout": result.stdout, "stderr": result.stderr,
                     "status": result.status, "duration": round(_fake_seconds(problem["id"], source, 0.01, 0.09), 3)}
        executions.append(execution)
        messages.append(observation_message(result, template))
        return execution

    final = ""
    if style == "error":
        error = "ReadTimeout: no reply from http://127.0.0.1:8000/v1 after 3 retries (timeout 60s)"
    elif style in ("direct-boxed", "direct-boxed-text"):
        ans = problem.get("old_answer") or "19"
        final = f"Each day covers 18 pages, so about {ans} days. $\\boxed{{{ans}}}$" if style == "direct-boxed" \
            else f"The diagonal is $\\boxed{{{ans}}}$."
        messages.append({"role": "assistant", "content": final})
    elif style == "pot-buggy":
        buggy = "total = 0\nfor k in range(8):\n    total += 15 + 5 * k\nprint(totl)"
        messages.append({"role": "assistant", "content": OPENING["en"].format(code=buggy)})
        run_block(buggy)
        messages.append({"role": "assistant", "content": "I misspelled the variable; fixed:\n```python\n" + code + "\n```"})
        out = run_block(code)["stdout"].strip()
        final = f"She has saved ${out} in total, so the answer is $\\boxed{{{out}}}$."
        messages.append({"role": "assistant", "content": final})
    else:
        opening = OPENING[lang].format(code=code)
        messages.append({"role": "assistant", "content": opening})
        out = run_block(code)["stdout"].strip()
        ans = out
        if style == "several-boxes":
            final = f"Ben has $\\boxed{{16}}$ stickers and Mia has $\\boxed{{{out}}}$."
        elif style == "no-answer":
            final = "Anna's age follows from doubling Ben's age and adding four years, as computed above."
        else:
            if style == "pot-en-units":
                ans = out.replace(" km", "")
            final = FINAL[style].format(ans=ans, out=out)
        messages.append({"role": "assistant", "content": final})

    record = {
        "id": problem["id"], "question": question, "gold": gold_ref,
        "level": int(problem["level"].split()[-1]) if is_math else None,
        "subject": problem.get("type") if is_math else None,
        "messages": messages, "executions": executions, "final_text": final or None,
        "rounds": len(executions),
        "latency": _fake_seconds(problem["id"], run_key, 0.8, 6.5),
        "usage": {"prompt_tokens": sum(_tokens(m["content"]) for m in messages if m["role"] != "assistant"),
                  "completion_tokens": sum(_tokens(m["content"]) for m in messages if m["role"] == "assistant")},
        "endpoint": "http://127.0.0.1:8000/v1", "error": error,
    }
    if error:
        from mathbench.core.grading import extract_gold

        record.update(gold_answer=extract_gold(gold_ref), pred_answer=None, verdict=None, reason="request-failed")
    else:
        g = grade(gold_ref, final)
        record.update(gold_answer=g.gold_answer, pred_answer=g.pred_answer, verdict=g.verdict, reason=g.reason)
    return record


def main() -> int:
    from mathbench.core import __version__
    from mathbench.core.sandbox import pool as sandbox
    from mathbench.core.grading import grade
    from mathbench.core.evaluation.pot import load_prompt
    from mathbench.core.evaluation.rundir import RunDir

    out = SAMPLE_WORKSPACE_DIR
    template = load_prompt("zh")
    bench_dir = out / "benchmarks"
    bench_dir.mkdir(parents=True, exist_ok=True)
    with open(bench_dir / "sample.jsonl", "w", encoding="utf-8") as fh:
        for p in GSM:
            fh.write(json.dumps({"id": p["id"], "question": p["q"], "answer": p["a"]}, ensure_ascii=False) + "\n")
        for p in MATH:
            fh.write(json.dumps({"id": p["id"], "problem": p["q"], "level": p["level"], "type": p["type"],
                                 "solution": p["a"]}, ensure_ascii=False) + "\n")
    counts = {}
    for name, spec in RUNS.items():
        run_path = out / "runs" / name
        if run_path.exists():
            shutil.rmtree(run_path)
        run = RunDir(run_path)
        run.write_manifest({
            "name": name, "benchmark": "benchmarks/sample.jsonl", "model": spec["model"],
            "endpoints": ["http://127.0.0.1:8000/v1"], "prompt": template.name,
            "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 2048, "seed": 0},
            "concurrency": 8, "total": len(GSM) + len(MATH), "created": spec["created"],
            "finished": spec["created"] + 900, "status": "finished", "mathbench_version": __version__,
            "note": "sample data written for mathbench: scripted replies, code really executed, verdicts from core.grading; "
            + spec["note"],
        })
        tally: dict[str, int] = {}
        with run.open_writer() as writer:
            for problem in GSM + MATH:
                style = problem[spec["key"]]
                code = problem.get(f"{spec['key']}_code", problem["code"])
                record = build_record(problem, style, code, run_key=name, template=template, sandbox=sandbox,
                                      grade=grade)
                writer.append(record)
                key = record["verdict"] or "error"
                tally[key] = tally.get(key, 0) + 1
        (run_path / ".lock").unlink(missing_ok=True)
        counts[name] = tally
    print(json.dumps(counts, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
