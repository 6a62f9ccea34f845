"""The spend ledger of a test's config folder, closed when the test ends.

An open SQLite connection left to the garbage collector closes its descriptors at a random
later moment, in the middle of another test (the vault's descriptor count saw it). A test
module imports both names: `open_ledger` to read, `close_ledgers` (autouse) to close.
"""

from __future__ import annotations

import pytest

_opened: list = []


def open_ledger():
    """The ledger of the config folder the environment names now."""
    from openai_skill.spend.caps import ledger_path
    from openai_skill.spend.ledger import Ledger

    book = Ledger(ledger_path())
    _opened.append(book)
    return book


@pytest.fixture(autouse=True)
def close_ledgers():
    yield
    while _opened:
        _opened.pop().close()
