"""Where the project's own files live: shipped sample data and config templates."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
CONFIGS_DIR = PROJECT_ROOT / "configs"
SAMPLE_WORKSPACE_DIR = DATA_DIR / "sample_workspace"
