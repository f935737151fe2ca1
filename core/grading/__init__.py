"""Grading: answer extraction, normalisation, comparison rules, choice items, the sympy layer, limits and the pool."""

from mathbench.core.grading.choices import find_choice, normalize_choices
from mathbench.core.grading.extraction import Extraction, extract_answer, extract_gold
from mathbench.core.grading.grader import grade, grade_answer
from mathbench.core.grading.normalize import Number, parse_number
from mathbench.core.grading.pool import GradingPool, grade_many, shared_pool
from mathbench.core.grading.rules import Grade

__all__ = [
    "Extraction", "Grade", "GradingPool", "Number", "extract_answer", "extract_gold", "find_choice", "grade",
    "grade_answer", "grade_many", "normalize_choices", "parse_number", "shared_pool",
]
