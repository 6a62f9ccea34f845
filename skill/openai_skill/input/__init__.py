"""Checking an action's input: JSON Schema validation (with a fast path) and the model rules."""
