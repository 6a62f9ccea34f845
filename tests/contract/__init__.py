"""Contract with the official OpenAI API spec: the extracted schema subset, the helpers that
validate against it (spec.py), and realistic response fixtures (fixtures/)."""
