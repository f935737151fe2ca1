"""Evaluation: benchmarks, the PoT protocol, the OpenAI-compatible client, the runner, run folders, reports.

Names are imported on first use (PEP 562), so opening the workbench or `mathbench --help` pays only for
what it touches.
"""

from __future__ import annotations

from mathbench.core.lazy import lazy_exports

_WHERE = {
    "AdjudicationSession": "adjudication",
    "AdjudicationState": "rundir",
    "BenchmarkError": "benchmarks",
    "ChatClient": "client",
    "ChatError": "client",
    "DuplicateResult": "layout",
    "EndpointsCameBack": "progress",
    "EndpointsDown": "client",
    "EndpointsWentDown": "progress",
    "EvalConfig": "runconfig",
    "EvalError": "runconfig",
    "ItemFailed": "progress",
    "ItemFinished": "progress",
    "LiveSummary": "report",
    "PotTrace": "pot",
    "Problem": "benchmarks",
    "Progress": "progress",
    "PromptTemplate": "pot",
    "RunDir": "rundir",
    "RunError": "layout",
    "RunFileError": "layout",
    "RunFinished": "progress",
    "RunFollower": "follow",
    "RunInfo": "listing",
    "RunLocked": "layout",
    "RunStarted": "progress",
    "RunSummary": "progress",
    "RunWriter": "writer",
    "Sampling": "client",
    "compare": "compare",
    "count_done": "listing",
    "effective_verdict": "rundir",
    "extract_code": "pot",
    "find_runs": "listing",
    "list_runs": "listing",
    "load_benchmark": "benchmarks",
    "load_prompt": "pot",
    "mcnemar_p": "compare",
    "paired_bootstrap_ci": "compare",
    "pass_at_k": "samples",
    "run_eval": "runner",
    "run_info": "listing",
    "run_status": "listing",
    "sample_stats": "samples",
    "solve": "pot",
    "summarize": "report",
    "summarize_records": "report",
    "verdict_sentence": "compare",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_exports(__name__, globals(), _WHERE)
