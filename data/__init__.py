"""The sample workspace, written for this project, shipped as package data."""
