"""Evaluation: benchmarks, the PoT protocol, the OpenAI-compatible client, the runner, run folders, reports."""

from mathbench.core.evaluation.adjudication import AdjudicationSession
from mathbench.core.evaluation.benchmarks import BenchmarkError, Problem, load_benchmark
from mathbench.core.evaluation.client import ChatClient, ChatError, EndpointsDown, Sampling
from mathbench.core.evaluation.compare import compare, mcnemar_p, paired_bootstrap_ci, verdict_sentence
from mathbench.core.evaluation.follow import RunFollower
from mathbench.core.evaluation.layout import DuplicateResult, RunError, RunFileError, RunLocked
from mathbench.core.evaluation.listing import RunInfo, count_done, find_runs, list_runs, run_info, run_status
from mathbench.core.evaluation.pot import PotTrace, PromptTemplate, extract_code, load_prompt, solve
from mathbench.core.evaluation.progress import (
    EndpointsCameBack,
    EndpointsWentDown,
    ItemFailed,
    ItemFinished,
    Progress,
    RunFinished,
    RunStarted,
    RunSummary,
)
from mathbench.core.evaluation.report import LiveSummary, summarize, summarize_records
from mathbench.core.evaluation.rundir import AdjudicationState, RunDir, effective_verdict
from mathbench.core.evaluation.runconfig import EvalConfig, EvalError
from mathbench.core.evaluation.runner import run_eval
from mathbench.core.evaluation.samples import pass_at_k, sample_stats
from mathbench.core.evaluation.writer import RunWriter

__all__ = [
    "AdjudicationSession", "AdjudicationState", "BenchmarkError", "ChatClient", "ChatError", "DuplicateResult",
    "EndpointsCameBack", "EndpointsDown", "EndpointsWentDown", "EvalConfig", "EvalError", "ItemFailed",
    "ItemFinished", "LiveSummary", "PotTrace", "Problem", "Progress", "PromptTemplate", "RunDir", "RunError",
    "RunFileError", "RunFinished", "RunFollower", "RunInfo", "RunLocked", "RunStarted", "RunSummary", "RunWriter",
    "Sampling", "compare", "count_done", "effective_verdict", "extract_code", "find_runs", "list_runs",
    "load_benchmark", "load_prompt", "mcnemar_p", "paired_bootstrap_ci", "pass_at_k", "run_eval", "run_info",
    "run_status", "sample_stats", "solve", "summarize", "summarize_records", "verdict_sentence",
]
