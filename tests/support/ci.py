"""Checks that need something outside the repository: a skip on a user's clone, a failure in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def in_ci() -> bool:
    """True under `.ci/run` (CI=true): there a missing outside file or tool is a failure."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_beside_repo(path: Path, what: str) -> Path:
    """A file that lives beside the repository (../shared): skip on a user's clone, which has
    no such folder, but fail in CI, where a skip would hide that the check never ran."""
    if not path.exists():
        message = f"{what} is not at {path}"
        if in_ci():
            pytest.fail(f"{message} (CI=true: this check must run in CI)")
        pytest.skip(f"{message}; it lives in ../shared beside the repository")
    return path
