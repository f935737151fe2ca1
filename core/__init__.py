"""mathbench core: every piece of logic, free of any UI library."""

__version__ = "0.1.0"
