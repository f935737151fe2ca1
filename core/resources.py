"""Where the files shipped with mathbench live: prompts, LLaMA-Factory templates, the sample workspace."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# Installed as package data (`mathbench.configs`, `mathbench.data`), so an installed wheel finds
# them as readily as a source checkout does; neither is ever zipped.
CONFIGS_DIR = Path(str(files("mathbench.configs")))
DATA_DIR = Path(str(files("mathbench.data")))
SAMPLE_WORKSPACE_DIR = DATA_DIR / "sample_workspace"
PROMPTS_DIR = CONFIGS_DIR / "prompts"
TEMPLATES_DIR = CONFIGS_DIR / "llamafactory"
