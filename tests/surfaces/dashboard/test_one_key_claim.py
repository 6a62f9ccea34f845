"""The one-key page is claimed before it stores (issue 16, item 7).

Two submissions at once both passed "not used yet": the second overwrote the first in the
vault, while the MCP client was told the first one's fingerprint (3 runs of 3). Now the first
submission claims the page on the event loop before anything is awaited; a second one, or a
cancel, while it stores is refused (409), and what the client is told is what is stored.
"""

from __future__ import annotations

import asyncio
import threading

from support.canary import CANARY_KEY
from support.local_pages import START, call, csrf_of, login

OTHER_KEY = "sk-proj-SECOND0123456789abcdefghijklmnopqrstuvwxyzSECOND"


def test_a_second_submission_while_the_first_stores_is_refused_and_the_outcome_is_what_was_stored():
    from openai_skill.secrets.store import VaultStore
    from openai_skill.surfaces.dashboard.one_key import OneKeyPage
    from openai_skill.surfaces.dashboard.vault_access import VaultAccess

    entered, release = threading.Event(), threading.Event()

    def slow_check(key, base_url, ca_bundle):   # the first submission's verification, held open
        entered.set()
        assert release.wait(30)
        return 3

    async def main():
        one = OneKeyPage(VaultAccess(verifier=slow_check), lifetime=60)
        one.start()
        port, start = START.fullmatch(one.url).groups()
        port, base = int(port), one.page.guard.prefix

        def user():
            cookie = login(port, start)
            _, _, html = call(port, "GET", base + "/", headers=cookie)
            headers = {**cookie, "Origin": f"http://127.0.0.1:{port}"}
            form = {"csrf": csrf_of(html), "verify": "1"}
            first = {}
            thread = threading.Thread(target=lambda: first.update(answer=call(
                port, "POST", base + "/submit", headers=headers, form={**form, "value": CANARY_KEY})))
            thread.start()
            assert entered.wait(30)
            second = call(port, "POST", base + "/submit", headers=headers, form={**form, "value": OTHER_KEY})
            cancel = call(port, "POST", base + "/cancel", headers=headers, form={"csrf": form["csrf"]})
            release.set()
            thread.join(30)
            return first["answer"], second, cancel

        answers = await asyncio.to_thread(user)
        return answers, await one.wait()

    (first, second, cancel), outcome = asyncio.run(main())
    assert first[0] == 200 and "Key stored" in first[2]
    assert second[0] == 409 and cancel[0] == 409
    vault = VaultStore().open()
    assert vault.get("openai_api_key") == CANARY_KEY
    assert outcome.status == "stored" and outcome.fingerprint == vault.fingerprint("openai_api_key")


def test_a_failed_submission_releases_the_claim():
    from openai_skill.secrets.store import VaultStore
    from openai_skill.surfaces.dashboard.one_key import OneKeyPage

    async def main():
        one = OneKeyPage(lifetime=60)
        one.start()
        port, start = START.fullmatch(one.url).groups()
        port, base = int(port), one.page.guard.prefix

        def user():
            cookie = login(port, start)
            _, _, html = call(port, "GET", base + "/", headers=cookie)
            headers = {**cookie, "Origin": f"http://127.0.0.1:{port}"}
            bad = call(port, "POST", base + "/submit", headers=headers, form={"csrf": csrf_of(html), "value": "nope"})
            good = call(port, "POST", base + "/submit", headers=headers,
                        form={"csrf": csrf_of(html), "value": CANARY_KEY})
            return bad, good

        answers = await asyncio.to_thread(user)
        return answers, await one.wait()

    (bad, good), outcome = asyncio.run(main())
    assert bad[0] == 200 and "does not look like an OpenAI API key" in bad[2]
    assert good[0] == 200 and outcome.status == "stored"
    assert VaultStore().lookup("openai_api_key") == CANARY_KEY
