"""Evaluation: benchmarks, the PoT protocol, the OpenAI-compatible client, the runner, run folders, reports.

Names are imported on first use (PEP 562), so opening the workbench or `mathbench --help` pays only for
what it touches.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AdjudicationSession": "mathbench.core.evaluation.adjudication",
    "AdjudicationState": "mathbench.core.evaluation.rundir",
    "BenchmarkError": "mathbench.core.evaluation.benchmarks",
    "ChatClient": "mathbench.core.evaluation.client",
    "ChatError": "mathbench.core.evaluation.client",
    "DuplicateResult": "mathbench.core.evaluation.layout",
    "EvalConfig": "mathbench.core.evaluation.runconfig",
    "EvalError": "mathbench.core.evaluation.runconfig",
    "LiveSummary": "mathbench.core.evaluation.report",
    "PotTrace": "mathbench.core.evaluation.pot",
    "Problem": "mathbench.core.evaluation.benchmarks",
    "PromptTemplate": "mathbench.core.evaluation.pot",
    "RunDir": "mathbench.core.evaluation.rundir",
    "RunError": "mathbench.core.evaluation.layout",
    "RunFileError": "mathbench.core.evaluation.layout",
    "RunFollower": "mathbench.core.evaluation.follow",
    "RunInfo": "mathbench.core.evaluation.listing",
    "RunLocked": "mathbench.core.evaluation.layout",
    "RunWriter": "mathbench.core.evaluation.writer",
    "Sampling": "mathbench.core.evaluation.client",
    "compare": "mathbench.core.evaluation.compare",
    "effective_verdict": "mathbench.core.evaluation.rundir",
    "extract_code": "mathbench.core.evaluation.pot",
    "find_runs": "mathbench.core.evaluation.listing",
    "list_runs": "mathbench.core.evaluation.listing",
    "load_benchmark": "mathbench.core.evaluation.benchmarks",
    "load_prompt": "mathbench.core.evaluation.pot",
    "run_eval": "mathbench.core.evaluation.runner",
    "run_info": "mathbench.core.evaluation.listing",
    "solve": "mathbench.core.evaluation.pot",
    "summarize": "mathbench.core.evaluation.report",
    "summarize_records": "mathbench.core.evaluation.report",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
