"""The sandbox that runs model code: a fork server with preloaded modules, isolation and limits."""

from mathbench.core.sandbox.pool import ExecResult, SandboxError, SandboxPool, default_pool, run_python, run_python_async

__all__ = ["ExecResult", "SandboxError", "SandboxPool", "default_pool", "run_python", "run_python_async"]
