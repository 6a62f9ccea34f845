"""What the tests share and are not tests themselves: loopback servers, canned OpenAI data,
clients for the surfaces, builders of test files. pyproject's pytest settings put tests/ on
sys.path, so a test imports `support.<module>` from any folder."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]   # the checkout: tests/support/ -> the repository
