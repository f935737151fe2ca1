"""A loopback OpenAI-compatible server that plays a PoT model, with injectable faults, for demos and tests."""

from mathbench.core.demo.script import PotScript
from mathbench.core.demo.server import FAULT_KINDS, DemoServer

__all__ = ["DemoServer", "FAULT_KINDS", "PotScript"]
