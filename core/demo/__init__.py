"""A loopback OpenAI-compatible server that plays a PoT model, for demos and tests."""
