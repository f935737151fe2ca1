"""SFT data: load, edit and save items, validate them by execution, dedupe, decontaminate, export, synthesise."""

from __future__ import annotations

from mathbench.core.lazy import lazy_exports

# What other stages and the TUI use, imported on first use so that `import mathbench.core.datasets`
# stays light (synthesis pulls in the OpenAI client, validation the sandbox).
_EXPORTS = {
    "Dataset": "dataset",
    "DatasetError": "jsonfile",
    "Layout": "jsonfile",
    "Turn": "items",
    "ROLES": "items",
    "detect_format": "items",
    "item_turns": "items",
    "make_item": "items",
    "problem_text": "items",
    "turns_to_text": "editor",
    "text_to_turns": "editor",
    "edit_item_in_editor": "editor",
    "dataset_stats": "stats",
    "schema_errors": "schema",
    "ItemCheck": "checks",
    "ValidationReport": "checks",
    "validate_items": "validate",
    "validate_dataset": "validate",
    "cached_checks": "validate",
    "ValidationCache": "validation_cache",
    "default_cache_path": "validation_cache",
    "normalize_problem": "similarity",
    "find_duplicates": "dedupe",
    "choose_drops": "dedupe",
    "export_sft": "export",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, globals(), _EXPORTS)
