"""SFT items: load and save, validate by execution, dedupe, export, synthesis with a teacher model."""
