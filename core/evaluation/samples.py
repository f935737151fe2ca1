"""Several samples per problem: pass@k (the unbiased estimator of Chen et al. 2021), maj@k and agreement.

Only graded samples count (an errored one is as if never drawn); human verdicts replace the grader's.
A problem enters pass@k and maj@k for a given k when it has at least k graded samples; maj@k votes over
its first k graded samples (by sample index). Answers are grouped by the grader's equivalence
(`grade_answer`), samples without an extracted answer do not vote, and a tie for the most votes, or a
winning group whose members were all uncertain (or disagree), makes the problem uncertain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mathbench.core.evaluation.rundir import human_verdict
from mathbench.core.records import GRADER_VERDICTS, ResultRecord, Verdict

EQUIVALENCE_TIMEOUT = 2.0  # seconds the grader may spend deciding that two answers are the same


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k): the chance that k of n samples, c of them correct, hold a correct one."""
    import numpy as np

    if k > n:
        raise ValueError(f"k = {k} is more than the {n} samples")
    if n - c < k:
        return 1.0
    if k == 1:
        return c / n
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def ks_up_to(n: int) -> list[int]:
    """k = 1, 2, 4, ... up to n."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    return ks


@dataclass
class Vote:
    """One graded sample as maj@k sees it."""

    sample: int
    answer: str | None
    verdict: str  # correct | wrong | uncertain, the human's when one stands


def default_same(a: str, b: str) -> bool:
    """True when the grader judges answer *b* equal to answer *a*."""
    from mathbench.core.grading import grade_answer

    return grade_answer(a, b, timeout=EQUIVALENCE_TIMEOUT).verdict == Verdict.CORRECT


def group_answers(answers: Sequence[str | None], same: Callable[[str, str], bool] = default_same) -> list[int | None]:
    """A group number per answer (None for no answer): equal answers share one, compared with *same*."""
    reps: list[str] = []
    by_text: dict[str, int] = {}
    out: list[int | None] = []
    for answer in answers:
        text = answer.strip() if isinstance(answer, str) else ""
        if not text:
            out.append(None)
            continue
        if text not in by_text:
            by_text[text] = next((g for g, rep in enumerate(reps) if same(rep, text)), len(reps))
            if by_text[text] == len(reps):
                reps.append(text)
        out.append(by_text[text])
    return out


def majority(votes: Sequence[Vote], groups: Sequence[int | None]) -> str:
    """The verdict of the most-voted answer group: uncertain on a tie or when its members were uncertain."""
    members: dict[int, list[str]] = {}
    for vote, group in zip(votes, groups):
        if group is not None:
            members.setdefault(group, []).append(vote.verdict)
    if not members:
        return Verdict.WRONG.value  # no sample gave an answer
    sizes = sorted((len(v) for v in members.values()), reverse=True)
    if len(sizes) > 1 and sizes[0] == sizes[1]:
        return Verdict.UNCERTAIN.value
    top = max(members.values(), key=len)
    if Verdict.CORRECT in top and Verdict.WRONG not in top:
        return Verdict.CORRECT.value
    if Verdict.WRONG in top and Verdict.CORRECT not in top:
        return Verdict.WRONG.value
    return Verdict.UNCERTAIN.value


def agreement(groups: Sequence[int | None]) -> float | None:
    """Share of a problem's graded samples that gave its most common answer."""
    if not groups:
        return None
    counts: dict[int, int] = {}
    for g in groups:
        if g is not None:
            counts[g] = counts.get(g, 0) + 1
    return (max(counts.values()) if counts else 0) / len(groups)


def votes_by_problem(records: Iterable[ResultRecord], adjudications: dict | None) -> dict[Any, list[Vote]]:
    """Each problem's graded samples in sample order, human verdicts applied."""
    out: dict[Any, list[Vote]] = {}
    for rec in records:
        if rec.is_error:
            out.setdefault(rec.id, [])
            continue
        verdict = human_verdict(rec, adjudications) or rec.verdict
        if verdict in GRADER_VERDICTS:
            out.setdefault(rec.id, []).append(Vote(rec.sample or 0, rec.pred_answer, str(verdict)))
    for votes in out.values():
        votes.sort(key=lambda v: v.sample)
    return out


def sample_stats(records: Sequence[ResultRecord], adjudications: dict | None = None, *, samples: int | None = None,
                 same: Callable[[str, str], bool] = default_same) -> dict:
    """``samples``, ``pass_at_k``, ``maj_at_k`` (shares of the problems counted for each k, keyed by str(k)),
    ``maj_at_k_counts`` (correct / wrong / uncertain / problems per k) and ``agreement`` (mean and per problem)."""
    if samples is None:
        samples = 1 + max((r.sample for r in records if r.sample is not None), default=0)
    by_problem = votes_by_problem(records, adjudications)
    ks = ks_up_to(samples)
    pass_sums = {k: [0.0, 0] for k in ks}
    maj = {k: {"correct": 0, "wrong": 0, "uncertain": 0, "problems": 0} for k in ks}
    rates: dict[str, float] = {}
    for pid, votes in by_problem.items():
        n = len(votes)
        c = sum(v.verdict == Verdict.CORRECT for v in votes)
        groups = group_answers([v.answer for v in votes], same) if samples > 1 else [0] * n
        rate = agreement(groups) if samples > 1 else None
        if rate is not None:
            rates[str(pid)] = rate
        for k in ks:
            if n < k:
                continue
            pass_sums[k][0] += pass_at_k(n, c, k)
            pass_sums[k][1] += 1
            verdict = majority(votes[:k], groups[:k]) if k > 1 else votes[0].verdict
            maj[k][verdict] += 1
            maj[k]["problems"] += 1
    return {
        "samples": samples,
        "pass_at_k": {str(k): (t / m if m else None) for k, (t, m) in pass_sums.items()},
        "maj_at_k": {str(k): (m["correct"] / m["problems"] if m["problems"] else None) for k, m in maj.items()},
        "maj_at_k_counts": {str(k): m for k, m in maj.items()},
        "agreement": {"mean": sum(rates.values()) / len(rates) if rates else None, "by_problem": rates},
    }
