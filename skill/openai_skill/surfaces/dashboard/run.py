"""`openai-skill dashboard`: start the vault page, print its one-time URL, open a browser."""

from __future__ import annotations

import asyncio
import os
import sys

from .app import build_app
from .server import LocalPage
from .vault_access import VaultAccess

DEFAULT_IDLE_MINUTES = 15


def run_dashboard(idle_timeout: float = DEFAULT_IDLE_MINUTES * 60, open_browser: bool = True, out=None) -> str:
    """Serve until idle, stopped from the page, or interrupted; returns why it stopped."""
    out = out or sys.stdout
    access = VaultAccess()
    holder: list[LocalPage] = []
    app = build_app(access, idle_minutes=max(1, round(idle_timeout / 60)),
                    on_quit=lambda: holder[0].stop("stopped from the page"))
    page = LocalPage(app, idle_timeout=idle_timeout)
    holder.append(page)
    out.write(f"Vault dashboard: {page.url}\n"
              f"(the link works once; the page stops after {idle_timeout:g} s without use, or with Ctrl-C)\n")
    out.flush()
    if open_browser:
        _open(page.url)
    reason = asyncio.run(page.serve())
    out.write(f"Dashboard stopped ({reason}).\n")
    out.flush()
    return reason


def _open(url: str) -> None:
    """A graphical browser if there is one; never a text browser that would take the terminal."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return
    import webbrowser

    try:
        webbrowser.open(url, new=2)
    except webbrowser.Error:
        pass
