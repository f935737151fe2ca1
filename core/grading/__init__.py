"""Final-answer extraction, normalisation and three-way verdicts, on math-verify and sympy."""
