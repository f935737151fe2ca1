"""The sandbox that runs model code: a fork server with preloaded modules, namespaces, cgroups and limits per block."""

from mathbench.core.sandbox.pool import ExecResult, SandboxError, SandboxPool, default_pool, run_python, run_python_async
from mathbench.core.sandbox.protections import sandbox_protections

__all__ = ["ExecResult", "SandboxError", "SandboxPool", "default_pool", "run_python", "run_python_async",
           "sandbox_protections"]
