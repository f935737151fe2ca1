"""Evaluation: benchmarks, the PoT protocol, the OpenAI-compatible client, the runner, run folders, reports."""

from mathbench.core.evaluation.adjudication import AdjudicationSession
from mathbench.core.evaluation.benchmarks import BenchmarkError, Problem, load_benchmark
from mathbench.core.evaluation.client import ChatClient, ChatError, Sampling
from mathbench.core.evaluation.compare import compare
from mathbench.core.evaluation.follow import RunFollower
from mathbench.core.evaluation.layout import DuplicateResult, RunError, RunFileError, RunLocked
from mathbench.core.evaluation.listing import RunInfo, find_runs, list_runs, run_info
from mathbench.core.evaluation.pot import PotTrace, PromptTemplate, extract_code, load_prompt, solve
from mathbench.core.evaluation.report import LiveSummary, summarize, summarize_records
from mathbench.core.evaluation.rundir import AdjudicationState, RunDir, effective_verdict
from mathbench.core.evaluation.runconfig import EvalConfig, EvalError
from mathbench.core.evaluation.runner import run_eval
from mathbench.core.evaluation.writer import RunWriter

__all__ = [
    "AdjudicationSession", "AdjudicationState", "BenchmarkError", "ChatClient", "ChatError", "DuplicateResult",
    "EvalConfig", "EvalError", "LiveSummary", "PotTrace", "Problem", "PromptTemplate", "RunDir", "RunError",
    "RunFileError", "RunFollower", "RunInfo", "RunLocked", "RunWriter", "Sampling", "compare", "effective_verdict",
    "extract_code", "find_runs", "list_runs", "load_benchmark", "load_prompt", "run_eval",
    "run_info", "solve", "summarize", "summarize_records",
]
