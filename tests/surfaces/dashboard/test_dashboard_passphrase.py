"""A passphrase vault in the local pages: locked until the passphrase is typed into the page
(it then unlocks this process only), and the one-key page asks for it beside the key."""

from __future__ import annotations

import os
import re

import pytest

from support.canary import CANARY_KEY
from support.local_pages import START, base_of, call, csrf_of, login, serving

PASSPHRASE = "correct horse battery staple"
OTHER_KEY = "sk-proj-OTHERKEY0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def passphrase_vault():
    from openai_skill.secrets.master_key import ENV_PASSPHRASE
    from openai_skill.secrets.store import VaultStore

    store = VaultStore({**os.environ, ENV_PASSPHRASE: PASSPHRASE})
    store.put("openai_api_key", CANARY_KEY)
    assert ENV_PASSPHRASE not in os.environ
    return store


def _page(app_builder):
    from openai_skill.surfaces.dashboard.server import LocalPage

    pages = []
    page = LocalPage(app_builder(lambda: pages[0].stop("quit")), idle_timeout=60, embedded=True)
    pages.append(page)
    return page


def test_the_dashboard_unlocks_a_passphrase_vault_from_the_page(passphrase_vault):
    from openai_skill.surfaces.dashboard.app import build_app
    from openai_skill.surfaces.dashboard.vault_access import VaultAccess

    access = VaultAccess()
    page = _page(lambda quit_: build_app(access, idle_minutes=1, on_quit=quit_))
    with serving(page):
        port, start = START.fullmatch(page.url).groups()
        port, base = int(port), base_of(start)
        cookie = login(port, start)
        _, _, html = call(port, "GET", base + "/", headers=cookie)
        assert 'name="passphrase"' in html and "(locked)" in html and "a passphrase" in html
        assert "/rotate" not in html          # nothing to rotate until it is unlocked
        origin = {"Origin": f"http://127.0.0.1:{port}", **cookie}
        call(port, "POST", base + "/unlock", headers=origin,
             form={"csrf": csrf_of(html), "passphrase": "wrong passphrase"})
        _, _, html = call(port, "GET", base + "/", headers=cookie)
        assert "wrong key/passphrase" in html and "(locked)" in html and "wrong passphrase" not in html
        call(port, "POST", base + "/unlock", headers=origin, form={"csrf": csrf_of(html), "passphrase": PASSPHRASE})
        _, _, html = call(port, "GET", base + "/", headers=cookie)
        fingerprint = passphrase_vault.open().fingerprint("openai_api_key")
        assert "Unlocked for this dashboard." in html and f"<code>{fingerprint}</code>" in html
        assert PASSPHRASE not in html and CANARY_KEY not in html
    from openai_skill.secrets.master_key import ENV_PASSPHRASE

    assert ENV_PASSPHRASE not in os.environ   # the page's passphrase stayed inside its VaultAccess


def test_the_one_key_page_asks_for_the_passphrase_of_a_passphrase_vault(passphrase_vault):
    import asyncio

    from openai_skill.surfaces.dashboard.one_key import OneKeyPage

    async def main():
        one = OneKeyPage(lifetime=30)
        one.start()
        port, start = START.fullmatch(one.url).groups()
        port, base = int(port), base_of(start)

        def user():
            cookie = login(port, start)
            _, _, html = call(port, "GET", base + "/", headers=cookie)
            assert 'name="passphrase"' in html
            origin = {"Origin": f"http://127.0.0.1:{port}", **cookie}
            _, _, again = call(port, "POST", base + "/submit", headers=origin,
                               form={"csrf": csrf_of(html), "value": OTHER_KEY, "passphrase": "wrong passphrase"})
            assert "wrong key/passphrase" in again and 'name="value"' in again   # the user may retry
            _, _, done = call(port, "POST", base + "/submit", headers=origin,
                              form={"csrf": csrf_of(html), "value": OTHER_KEY, "passphrase": PASSPHRASE})
            return again, done

        pages = await asyncio.to_thread(user)
        return await one.wait(), pages

    outcome, (again, done) = asyncio.run(main())
    assert outcome.status == "stored" and "Key stored" in done
    assert passphrase_vault.lookup("openai_api_key") == OTHER_KEY
    assert OTHER_KEY not in again + done and PASSPHRASE not in again + done
    assert re.search(r"fingerprint [0-9a-f]{8}", done)
