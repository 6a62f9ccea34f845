"""The dashboard's pages: list the vault, store/replace, remove (confirmed), rotate, unlock, stop.

Every route sits behind `guard.Guard`, which has already checked the Host, the session and,
for a POST, the CSRF token and Origin. A POST answers with a redirect to the vault page and
a one-time message (post/redirect/get), so reloading never repeats an action.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ...secrets.sources import credential
from . import pages
from .guard import FORM_KEY, SESSION_KEY, base_of
from .vault_access import VaultAccess, message_for, stored_text


def static_route() -> Route:
    async def style(request: Request) -> Response:
        return Response(pages.stylesheet(), media_type="text/css")
    return Route("/static/style.css", style, methods=["GET", "HEAD"])


def build_app(access: VaultAccess, *, idle_minutes: int, on_quit) -> Starlette:
    """The dashboard ASGI app (wrap it in a Guard before serving)."""

    async def locked(func, *args):
        def run():
            with access.lock:
                return func(*args)
        return await run_in_threadpool(run)

    def back(request: Request, kind: str, text: str) -> Response:
        request.scope[SESSION_KEY].flash.append((kind, text))
        return RedirectResponse(f"{base_of(request)}/", status_code=303)

    async def home(request: Request) -> Response:
        session = request.scope[SESSION_KEY]
        flash, session.flash = session.flash, []
        try:
            view = await locked(access.view)
            where = await locked(access.destination, credential()["name"])
        except Exception as exc:  # a vault that cannot be opened: say why, keep the page usable
            view = {"path": access.path, "mode": None, "locked": False, "entries": []}
            where = {"origin": "(unknown)", "is_default": False, "current": [], "confirm": True}
            flash = flash + [("error", message_for(exc))]
        return HTMLResponse(pages.vault_page(view, session.csrf, flash, idle_minutes,
                                             credential()["name"], credential()["prefix"], base=base_of(request),
                                             where=where))

    async def set_key(request: Request) -> Response:
        form = request.scope[FORM_KEY]
        try:
            done = await locked(access.put, form.get("name", ""), form.get("value", ""), form.get("verify") == "1",
                                form.get("confirm_origin", ""))
        except Exception as exc:
            return back(request, "error", message_for(exc))
        return back(request, "ok", f"Stored {done['name']} (fingerprint {done['fingerprint']}), {stored_text(done)}")

    async def confirm_remove(request: Request) -> Response:
        name = request.query_params.get("name", "")
        try:
            fingerprint = await locked(access.fingerprint, name)
        except Exception as exc:
            return back(request, "error", message_for(exc))
        if fingerprint is None:
            return back(request, "error", "There is no such entry.")
        return HTMLResponse(pages.confirm_remove_page(name, fingerprint, request.scope[SESSION_KEY].csrf,
                                                      base=base_of(request)))

    async def remove(request: Request) -> Response:
        name = request.scope[FORM_KEY].get("name", "")
        try:
            removed = await locked(access.remove, name)
        except Exception as exc:
            return back(request, "error", message_for(exc))
        return back(request, "ok" if removed else "error",
                    f"Removed {name}." if removed else "There is no such entry.")

    async def rotate(request: Request) -> Response:
        form = request.scope[FORM_KEY]
        try:
            done = await locked(access.rotate, form.get("to", "same"), form.get("new_passphrase", ""),
                                form.get("new_passphrase2", ""))
        except Exception as exc:
            return back(request, "error", message_for(exc))
        return back(request, "ok", f"Rotated: {done['entries']} entries re-encrypted; unlocked by "
                                   f"{pages.MODE_NAMES.get(done['mode'], done['mode'])}.")

    async def unlock(request: Request) -> Response:
        try:
            await locked(access.unlock, request.scope[FORM_KEY].get("passphrase", ""))
        except Exception as exc:
            return back(request, "error", message_for(exc))
        return back(request, "ok", "Unlocked for this dashboard.")

    async def quit_(request: Request) -> Response:
        on_quit()
        return HTMLResponse(pages.finished_page("Dashboard stopped", "The local page has shut down.",
                                                base=base_of(request)))

    return Starlette(routes=[
        static_route(),
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/set", set_key, methods=["POST"]),
        Route("/remove", confirm_remove, methods=["GET", "HEAD"]),
        Route("/remove", remove, methods=["POST"]),
        Route("/rotate", rotate, methods=["POST"]),
        Route("/unlock", unlock, methods=["POST"]),
        Route("/quit", quit_, methods=["POST"]),
    ])
