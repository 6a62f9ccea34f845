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
from ...spend import Guard as SpendGuard
from ...spend.caps import CAP_LABELS, CAPS, usd
from ...spend.usage import DEFAULT_SINCE, MAX_ROWS, caps_use, parse_window
from ...spend.usage import build as build_report
from . import pages, usage_page
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

    def back(request: Request, kind: str, text: str, to: str = "/") -> Response:
        request.scope[SESSION_KEY].flash.append((kind, text))
        return RedirectResponse(f"{base_of(request)}{to}", status_code=303)

    spend = SpendGuard(access.env)   # the caps and ledger of the config folder the vault is in

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

    async def usage(request: Request) -> Response:
        session = request.scope[SESSION_KEY]
        flash, session.flash = session.flash, []

        def read():
            ledger = spend.ledger
            try:
                window = parse_window(DEFAULT_SINCE, ledger.clock())
                report = build_report(ledger.rows_since(window.start, MAX_ROWS + 1), window, "model",
                                      caps=caps_use(ledger.summary()))
                return report, ledger.stored_caps()
            finally:
                spend.close()   # per request: an idle page holds no ledger connection
        try:
            report, stored = await run_in_threadpool(read)
        except Exception as exc:  # a ledger or caps file that cannot be read: say why, keep the page usable
            return HTMLResponse(pages.page("Usage", usage_page.nav(base_of(request), "/usage"),
                                           flash + [("error", message_for(exc))], base=base_of(request)))
        return HTMLResponse(usage_page.usage_page(report, stored, session.csrf, flash, base=base_of(request)))

    async def set_caps(request: Request) -> Response:
        try:
            caps, allow = usage_page.parse_caps(request.scope[FORM_KEY])

            def change():
                try:
                    spend.ledger.set_caps(caps, allow_unpriced=allow)
                    return spend.ledger.stored_caps()
                finally:
                    spend.close()
            stored = await run_in_threadpool(change)
        except Exception as exc:
            said = message_for(exc)
            return back(request, "error", said if "nothing was changed" in said.lower()
                        else f"{said}. Nothing was changed.", "/usage")
        said = ", ".join(f"{CAP_LABELS[n]} {usd(stored['caps'][n]) if n in stored['caps'] else 'none'}" for n in CAPS)
        unpriced = "allowed" if stored["allow_unpriced"] else "refused while a cap is set"
        return back(request, "ok", f"Saved the spend caps: {said}; calls of unknown price {unpriced}.", "/usage")

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
        Route("/usage", usage, methods=["GET", "HEAD"]),
        Route("/caps", set_caps, methods=["POST"]),
        Route("/quit", quit_, methods=["POST"]),
    ])
