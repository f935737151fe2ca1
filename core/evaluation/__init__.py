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
    "EndpointsCameBack": "mathbench.core.evaluation.progress",
    "EndpointsDown": "mathbench.core.evaluation.client",
    "EndpointsWentDown": "mathbench.core.evaluation.progress",
    "EvalConfig": "mathbench.core.evaluation.runconfig",
    "EvalError": "mathbench.core.evaluation.runconfig",
    "ItemFailed": "mathbench.core.evaluation.progress",
    "ItemFinished": "mathbench.core.evaluation.progress",
    "LiveSummary": "mathbench.core.evaluation.report",
    "PotTrace": "mathbench.core.evaluation.pot",
    "Problem": "mathbench.core.evaluation.benchmarks",
    "Progress": "mathbench.core.evaluation.progress",
    "PromptTemplate": "mathbench.core.evaluation.pot",
    "RunDir": "mathbench.core.evaluation.rundir",
    "RunError": "mathbench.core.evaluation.layout",
    "RunFileError": "mathbench.core.evaluation.layout",
    "RunFinished": "mathbench.core.evaluation.progress",
    "RunFollower": "mathbench.core.evaluation.follow",
    "RunInfo": "mathbench.core.evaluation.listing",
    "RunLocked": "mathbench.core.evaluation.layout",
    "RunStarted": "mathbench.core.evaluation.progress",
    "RunSummary": "mathbench.core.evaluation.progress",
    "RunWriter": "mathbench.core.evaluation.writer",
    "Sampling": "mathbench.core.evaluation.client",
    "compare": "mathbench.core.evaluation.compare",
    "count_done": "mathbench.core.evaluation.listing",
    "effective_verdict": "mathbench.core.evaluation.rundir",
    "extract_code": "mathbench.core.evaluation.pot",
    "find_runs": "mathbench.core.evaluation.listing",
    "list_runs": "mathbench.core.evaluation.listing",
    "load_benchmark": "mathbench.core.evaluation.benchmarks",
    "load_prompt": "mathbench.core.evaluation.pot",
    "mcnemar_p": "mathbench.core.evaluation.compare",
    "paired_bootstrap_ci": "mathbench.core.evaluation.compare",
    "pass_at_k": "mathbench.core.evaluation.samples",
    "run_eval": "mathbench.core.evaluation.runner",
    "run_info": "mathbench.core.evaluation.listing",
    "run_status": "mathbench.core.evaluation.listing",
    "sample_stats": "mathbench.core.evaluation.samples",
    "solve": "mathbench.core.evaluation.pot",
    "summarize": "mathbench.core.evaluation.report",
    "summarize_records": "mathbench.core.evaluation.report",
    "verdict_sentence": "mathbench.core.evaluation.compare",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
