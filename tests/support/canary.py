"""The key that must never be seen anywhere the skill writes. Shaped like a real key on
purpose, so redaction by shape and by value are both exercised."""

CANARY_KEY = "sk-proj-CANARY0123456789abcdefghijklmnopqrstuvwxyzCANARY"
