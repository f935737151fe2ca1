"""Benchmarks, the PoT protocol, the OpenAI-compatible client, the runner, run folders and reports."""
