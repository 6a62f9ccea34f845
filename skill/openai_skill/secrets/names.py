"""The one rule for secret names: vault entries, `setup --name` and `secret-provider` ids.

It is OpenClaw's SecretRef id pattern, so every vault entry can be served by
`openai-skill secret-provider` and every id OpenClaw may ask for can be looked up.
"""

from __future__ import annotations

import re

from ..errors import InputError

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}"
NAME = re.compile(NAME_PATTERN)
NAME_RULE = "letters, digits and . _ : / # - (starting with a letter or digit, at most 256 characters)"
# `<entry>#ca-bundle` holds the entry's CA bundle (`setup --ca-bundle`): certificates, public,
# so never registered for masking (their PEM words would mask "certificate" in TLS errors).
CA_BUNDLE_SUFFIX = "#ca-bundle"


def is_name(value) -> bool:
    return isinstance(value, str) and NAME.fullmatch(value) is not None


def check_name(name) -> str:
    """`name` if it is a valid entry name, else InputError saying the rule."""
    if not is_name(name):
        shown = name if isinstance(name, str) and len(name) <= 64 else type(name).__name__
        raise InputError(f"invalid entry name {shown!r}: use {NAME_RULE}")
    return name
