"""Where the files shipped with mathbench live: prompts, LLaMA-Factory templates, the sample workspace."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path


def _package_dir(name: str) -> Path:
    """The folder of package *name*, found without importing it (importlib.resources costs start-up time)."""
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{name} is not installed as a package folder")
    return Path(next(iter(spec.submodule_search_locations)))


# Installed as package data (`mathbench.configs`, `mathbench.data`), so an installed wheel finds
# them as readily as a source checkout does; neither is ever zipped.
CONFIGS_DIR = _package_dir("mathbench.configs")
DATA_DIR = _package_dir("mathbench.data")
SAMPLE_WORKSPACE_DIR = DATA_DIR / "sample_workspace"
PROMPTS_DIR = CONFIGS_DIR / "prompts"
TEMPLATES_DIR = CONFIGS_DIR / "llamafactory"
