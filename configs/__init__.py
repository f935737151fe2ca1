"""Prompt templates and LLaMA-Factory YAML templates, shipped as package data."""
