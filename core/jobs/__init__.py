"""Detached processes and their registry; LLaMA-Factory training, vLLM serving and the GPU."""
