"""LLaMA-Factory training: config templates and overrides, the launch, and reading a run's logs and checkpoints."""

from mathbench.core.jobs.training.config import (
    ALIASES, CONFIG_NAME, PLACEHOLDER_KEYS, TEMPLATE_DESCRIPTIONS, ConfigError, Placeholder, TemplateInfo,
    list_templates, load_config, load_config_text, parse_overrides, parse_value, placeholders, render_config,
    template_path, yaml_scalar,
)
from mathbench.core.jobs.training.launch import TrainLaunch, launch_training, prepare_training, preview_training, start_training
from mathbench.core.jobs.training.log import (
    RUNNING_LOG, TRAINER_LOG, Checkpoint, TrainerLog, TrainProgress, TrainStatus, find_checkpoints, last_progress,
    parse_console_metrics, parse_hms, read_trainer_log, smooth, training_status,
)

__all__ = [
    "ALIASES", "CONFIG_NAME", "PLACEHOLDER_KEYS", "RUNNING_LOG", "TEMPLATE_DESCRIPTIONS", "TRAINER_LOG", "Checkpoint",
    "ConfigError", "Placeholder", "TemplateInfo", "TrainLaunch", "TrainProgress", "TrainStatus", "TrainerLog",
    "find_checkpoints", "launch_training", "last_progress", "list_templates", "load_config", "load_config_text", "parse_console_metrics",
    "parse_hms", "parse_overrides", "parse_value", "placeholders", "prepare_training", "preview_training", "read_trainer_log",
    "render_config", "smooth", "start_training", "template_path", "training_status", "yaml_scalar",
]
