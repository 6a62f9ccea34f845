"""HTML for the local pages: pure functions from data to text, no I/O but reading templates.

Templates are package data (string.Template, `$name` placeholders). Every value is escaped
unless it is `Html` built here, so an entry name or an error message cannot inject markup.
No page has a script: forms and links are all there is, so it works without JavaScript.
Every page lives under its server's secret path prefix (`guard.Guard`): `base` is that
prefix, written before every link and form action (None: a refusal outside the prefix,
which must not name it, so it links to nothing).
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from string import Template

MODE_NAMES = {
    "key-file": "a random key file beside the vault",
    "passphrase": "a passphrase (stretched with scrypt)",
    "env-key": "the key in OPENAI_SKILL_VAULT_KEY",
}
MODE_NOTES = {
    "key-file": "a copy of the vault file alone (a backup, a synced folder). Not against anyone who "
                "can read your files as you: the key file sits beside it. Switch to a passphrase "
                "for that.",
    "passphrase": "anyone who gets the vault folder, as long as the passphrase stays secret and "
                  "strong. Each process that reads the key needs the passphrase "
                  "(OPENAI_SKILL_VAULT_PASSPHRASE).",
    "env-key": "anyone who gets the vault folder: the master key lives only where that variable "
               "is set, so the vault is as safe as that place.",
}


class Html(str):
    """Markup built by this module: inserted as is."""


def escape(value) -> Html:
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


@cache
def template(name: str) -> Template:
    return Template((resources.files(__package__) / "templates" / name).read_text("utf-8"))


def stylesheet() -> bytes:
    return (resources.files(__package__) / "templates" / "style.css").read_bytes()


def fill(template_name: str, /, **values) -> Html:
    return Html(template(template_name).substitute({k: escape(v) for k, v in values.items()}))


def page(title: str, body: Html, flash: list | None = None, *, base: str | None) -> str:
    style = Html("") if base is None else Html(f'<link rel="stylesheet" href="{escape(base)}/static/style.css">')
    return fill("base.html", title=title, body=body, flash=flash_html(flash or []), stylesheet=style)


def flash_html(messages: list) -> Html:
    out = []
    for kind, text in messages:
        role = "alert" if kind == "error" else "status"
        out.append(f'<p class="flash {escape(kind)}" role="{role}">{escape(text)}</p>')
    return Html("\n".join(out))


def nav(base: str, here: str) -> Html:
    """The links between the pages (the page shown marked as current)."""
    links = (("Vault", "/"), ("Usage", "/usage"))
    items = "".join(f'<a href="{escape(base)}{path}"' + (' aria-current="page"' if path == here else "")
                    + f">{name}</a> " for name, path in links)
    return Html(f'<nav class="pages" aria-label="Pages">{items}</nav>')


def start_page(base: str, action: str) -> str:
    """What the one-time link shows: one button, which spends the link (a POST)."""
    return page("Open the local page", Html(
        f'<form method="post" action="{escape(action)}"><p>This link works once: press the button to open '
        'the page in this browser.</p><p><button type="submit">Open the page</button></p></form>'), base=base)


def error_page(status: int, message: str, *, base: str | None) -> str:
    return page(f"Refused ({status})", Html(f"<p>{escape(message)}</p>"), base=base)


def entries_table(entries: list[dict], base: str) -> Html:
    if not entries:
        return Html("<p>The vault holds no entries yet.</p>")
    rows = []
    for e in entries:
        name = escape(e["name"])
        rows.append(
            f"<tr><td><code>{name}</code></td><td><code>{escape(e['fingerprint'])}</code></td>"
            f"<td>{'<br>'.join(f'<code>{escape(o)}</code>' for o in e.get('origins', []))}</td>"
            f"<td>{_time(e['created'])}</td><td>{_time(e['updated'])}</td>"
            f'<td><a href="{escape(base)}/remove?name={escape(_query(e["name"]))}" '
            f'aria-label="Remove {name}">Remove…</a></td></tr>')
    return Html('<table><caption>Values are never shown: the fingerprint identifies a value without '
                'revealing it.</caption><thead><tr><th scope="col">Name</th><th scope="col">Fingerprint</th>'
                '<th scope="col">Sent only to</th><th scope="col">Created (UTC)</th><th scope="col">Updated (UTC)</th>'
                '<th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>'
                + "".join(rows) + "</tbody></table>")


def unlock_form(csrf: str, needed: bool, base: str) -> Html:
    if not needed:
        return Html("")
    return Html(
        f'<form method="post" action="{escape(base)}/unlock"><input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<p><label for="pass">Vault passphrase</label>'
        '<input id="pass" name="passphrase" type="password" required autocomplete="current-password"></p>'
        '<p><button type="submit">Unlock</button></p></form>')


def passphrase_field(needed: bool) -> Html:
    if not needed:
        return Html("")
    return Html('<p><label for="pass">Vault passphrase</label>'
                '<input id="pass" name="passphrase" type="password" required autocomplete="current-password" '
                'aria-describedby="pass-help"><span id="pass-help" class="help">Your vault is protected '
                'by a passphrase; it is needed to add the key.</span></p>')


def destination_block(where: dict, name: str) -> Html:
    """Where the key goes, said before it is typed (and why it needs a tick when it does)."""
    origin = escape(where["origin"])
    parts = [f'<p class="destination" id="destination">This key will be sent only to <code>{origin}</code>'
             + (" (OpenAI's API)." if where["is_default"] else ".") + "</p>"]
    if not where["is_default"]:
        parts.append(f'<p class="flash error" role="alert">That is not OpenAI\'s API (https://api.openai.com): '
                     f'this page was started with the API base set to <code>{origin}</code> (OPENAI_BASE_URL). '
                     "Store the key only if you trust that server with it.</p>")
    if where["current"] and where["origin"] not in where["current"]:
        parts.append(f"<p>The stored <code>{escape(name)}</code> goes only to "
                     f"{', '.join(f'<code>{escape(o)}</code>' for o in where['current'])}; storing here would "
                     f"let it go to <code>{origin}</code> too.</p>")
    return Html("\n".join(parts))


def confirm_origin_field(where: dict) -> Html:
    """The tick a person gives on the page for a destination that needs it (checked again by
    the server: the field must name exactly this origin)."""
    if not where["confirm"]:
        return Html("")
    origin = escape(where["origin"])
    return Html(f'<p><input id="confirm_origin" name="confirm_origin" type="checkbox" value="{origin}" required>'
                f'<label for="confirm_origin" class="inline">I trust <code>{origin}</code> with this key: send it '
                "there</label></p>")


def vault_page(view: dict, csrf: str, flash: list, idle_minutes: int, default_name: str, prefix: str, *,
               base: str, where: dict) -> str:
    mode = view.get("mode") or ""  # "": no vault yet (the defaults below)
    body = fill("vault.html",
                vault_path=view["path"],
                mode_name=MODE_NAMES.get(mode, "nothing yet: the first key you store creates the vault "
                                               "with a random key file"),
                mode_note=MODE_NOTES.get(mode, "—"),
                unlock=unlock_form(csrf, view.get("locked", False), base),
                entries=entries_table(view.get("entries", []), base),
                rotate=fill("rotate.html", csrf=csrf, base=base) if mode and not view.get("locked") else Html(""),
                csrf=csrf, default_name=default_name, prefix=prefix, idle_minutes=idle_minutes, base=base,
                destination=destination_block(where, default_name), confirm_origin=confirm_origin_field(where),
                origin=where["origin"], nav=nav(base, "/"))
    return page("Vault", body, flash, base=base)


def confirm_remove_page(name: str, fingerprint: str, csrf: str, *, base: str) -> str:
    return page("Remove an entry", fill("confirm_remove.html", name=name, fingerprint=fingerprint, csrf=csrf,
                                        base=base), base=base)


def one_key_page(purpose: str, vault_path: str, csrf: str, flash: list, minutes: int, prefix: str,
                 passphrase_needed: bool, *, base: str, where: dict, name: str) -> str:
    body = fill("one_key.html", purpose=purpose, vault_path=vault_path, csrf=csrf, minutes=minutes,
                prefix=prefix, passphrase_field=passphrase_field(passphrase_needed), base=base,
                destination=destination_block(where, name), confirm_origin=confirm_origin_field(where),
                origin=where["origin"])
    return page("Connect OpenAI", body, flash, base=base)


def finished_page(heading: str, text: str, *, base: str) -> str:
    return page(heading, fill("finished.html", heading=heading, text=text), base=base)


def _time(stamp: str) -> Html:
    """2026-01-02T03:04:05Z as a readable `<time>` (the vault keeps UTC, to the second)."""
    shown = stamp.replace("T", " ")[:16] if len(stamp) == 20 else stamp
    return Html(f'<time datetime="{escape(stamp)}">{escape(shown)}</time>')


def _query(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
