"""The vault format (openai_skill.secrets.vault_format): known answers, the frozen fixtures, and the negative kit.

NEGATIVE_CASES counts every malformed or tampered input tried here (reported by the last test).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import openai_skill.secrets.crypto as crypto
import openai_skill.secrets.vault_format as v
from openai_skill.errors import InputError, VaultError
from openai_skill.secrets.vault_format import Vault, VaultAuthError, VaultFormatError, parse
from support.vault_fixture import CONTENTS, FIXTURES, FIXTURES_V2, build, counter_rand

VECTORS = Path(__file__).parent / "vectors"
KEY = base64.b64decode(CONTENTS["master_key_b64"])
KEYFILE_VAULT = (FIXTURES / "keyfile" / "vault").read_bytes()
PASSPHRASE_VAULT = (FIXTURES / "passphrase" / "vault").read_bytes()
V2_KEYFILE_VAULT = (FIXTURES_V2 / "keyfile" / "vault").read_bytes()
V2_PASSPHRASE_VAULT = (FIXTURES_V2 / "passphrase" / "vault").read_bytes()
NEGATIVE_CASES = {"count": 0}


@pytest.fixture(scope="module", autouse=True)
def report_negative_cases():
    yield
    print(f"\nvault format negative cases tried: {NEGATIVE_CASES['count']}")  # shown with -s


def _vectors(name):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def refused(data: bytes, key: bytes = KEY) -> VaultError:
    """Opening must fail with the format error or the one authentication error, nothing else."""
    NEGATIVE_CASES["count"] += 1
    with pytest.raises((VaultFormatError, VaultAuthError)) as info:
        Vault.open(data, key)
    return info.value


def remac(data: bytes, key: bytes = KEY) -> bytes:
    """Recompute the file MAC (as only a holder of the master key could), to reach the AAD checks."""
    import hashlib
    import hmac

    signed = data[: data.rindex(b"mac ")]
    mac = hmac.new(v.hkdf_expand(key, v.MAC_KEY_INFO), signed, hashlib.sha256).digest()
    return signed + b"mac " + base64.b64encode(mac) + b"\n"


# ---- known answers -------------------------------------------------------------------------

def test_aes256gcm_nist_vector_through_the_fixed_nonce_seam():
    case = _vectors("aes256gcm.json")["valid"][0]
    key, iv, pt, aad = (bytes.fromhex(case[k]) for k in ("key", "iv", "pt", "aad"))
    sealed = v._seal_from_parts(key, pt, aad, iv)
    assert sealed == iv + bytes.fromhex(case["ct"]) + bytes.fromhex(case["tag"])
    assert v.unseal(key, sealed, aad) == pt


@pytest.mark.parametrize("case", _vectors("aes256gcm.json")["invalid"], ids=lambda c: c["desc"])
def test_aes256gcm_invalid_cases_are_one_uninformative_error(case):
    good = _vectors("aes256gcm.json")["valid"][0]
    f = {k: bytes.fromhex(case.get(k, good[k])) for k in ("key", "iv", "ct", "tag", "aad")}
    NEGATIVE_CASES["count"] += 1
    with pytest.raises(VaultAuthError) as info:
        v.unseal(f["key"], f["iv"] + f["ct"] + f["tag"], f["aad"])
    assert info.value.message == "cannot open the vault: wrong key/passphrase, or the vault was modified"


def test_scrypt_rfc7914_vector():
    case = _vectors("scrypt.json")["valid"][0]
    out = v.scrypt(case["password"].encode(), case["salt"].encode(), case["log_n"], case["r"], case["p"],
                   case["length"])
    assert out.hex() == case["derived"]


def test_hkdf_expand_matches_rfc5869_implementation():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    for info in (v.WRAP_KEY_INFO, v.MAC_KEY_INFO, v.FINGERPRINT_KEY_INFO):
        expected = HKDFExpand(algorithm=hashes.SHA256(), length=32, info=info).derive(KEY)
        assert v.hkdf_expand(KEY, info) == expected


def test_writer_reproduces_the_frozen_v2_fixtures_byte_for_byte():
    assert build("keyfile") == V2_KEYFILE_VAULT
    assert build("passphrase") == V2_PASSPHRASE_VAULT


# ---- the frozen fixtures keep opening ------------------------------------------------------

def _assert_contents(vault: Vault):
    assert {name: vault.get(name) for name in vault.entries} == CONTENTS["entries"]
    assert {name: e.created for name, e in vault.entries.items()} == CONTENTS["created"]
    assert vault.generation == CONTENTS["generation"]


def test_frozen_keyfile_vault_opens_with_its_key_file():
    key = base64.b64decode((FIXTURES / "keyfile" / "vault.key").read_text())
    _assert_contents(Vault.open(KEYFILE_VAULT, key))


def test_frozen_passphrase_vault_opens_with_its_passphrase():
    vf = parse(PASSPHRASE_VAULT)
    assert (vf.kdf.log_n, vf.kdf.r, vf.kdf.p) == (10, 8, 1)
    _assert_contents(Vault.open(vf, v.derive_passphrase_key(CONTENTS["passphrase"], vf.kdf)))


def test_frozen_v2_vaults_open_with_their_origins():
    vault = Vault.open(V2_KEYFILE_VAULT, KEY)
    _assert_contents(vault)
    assert (vault.version, vault.raw_source) == (2, "key-file")
    assert {name: list(vault.origins(name)) for name in vault.entries} == CONTENTS["v2_origins"]
    vf = parse(V2_PASSPHRASE_VAULT)
    _assert_contents(Vault.open(vf, v.derive_passphrase_key(CONTENTS["passphrase"], vf.kdf)))


def test_a_v1_vault_reads_as_bound_to_api_openai_com_and_is_written_only_as_v2():
    vault = Vault.open(KEYFILE_VAULT, KEY)
    assert (vault.version, vault.raw_source) == (1, None)
    assert {vault.origins(name) for name in vault.entries} == {("https://api.openai.com",)}
    with pytest.raises(ValueError):
        vault.to_bytes()  # never a v1 file with v2 lines, nor a silent guess of the key source
    upgraded = vault.rekey(vault.master_key, None, source="env-key")
    again = Vault.open(upgraded.to_bytes(), KEY)
    assert again.version == 2 and again.raw_source == "env-key"
    _assert_contents(again)
    assert again.fingerprint("openai_api_key") == vault.fingerprint("openai_api_key")  # same key schedule


def test_origins_are_bound_to_the_ciphertext_even_with_a_valid_mac():
    widened = V2_KEYFILE_VAULT.replace(b" https://api.openai.com dnKs", b" https://evil.example dnKs")
    assert widened != V2_KEYFILE_VAULT
    assert isinstance(refused(widened), VaultAuthError)   # the file MAC
    vault = Vault.open(remac(widened), KEY)               # past the MAC: the AAD binds the origins
    assert vault.origins("github_token") == ("https://evil.example",)
    NEGATIVE_CASES["count"] += 1
    with pytest.raises(VaultAuthError):
        vault.get("github_token")


def test_set_origins_reseals_and_checks_the_form():
    vault = Vault.open(V2_KEYFILE_VAULT, KEY)
    vault.set_origins("github_token", ["https://b.example", "https://a.example:8443"])
    again = Vault.open(vault.to_bytes(), KEY)
    assert again.origins("github_token") == ("https://a.example:8443", "https://b.example")
    assert again.get("github_token") == CONTENTS["entries"]["github_token"]
    for bad in ([], ["https://A.example"], ["https://a.example/v1"], ["ftp://a.example"],
                [f"https://h{i}.example" for i in range(17)]):
        with pytest.raises(InputError):
            vault.set_origins("github_token", bad)


def test_file_shows_structure_but_no_secret():
    text = KEYFILE_VAULT.decode("ascii")
    assert text.startswith("openai-skill-vault v1\nid ")
    assert "entry openai_api_key 2026-01-01T00:00:02Z" in text
    for value in CONTENTS["entries"].values():
        assert value not in text and base64.b64encode(value.encode()).decode() not in text


# ---- negative kit --------------------------------------------------------------------------

@pytest.mark.parametrize("case", _vectors("vault_v1_invalid.json")["invalid"], ids=lambda c: c["desc"])
def test_invalid_files_are_refused_with_their_reason(case, monkeypatch):
    monkeypatch.setattr(crypto, "scrypt", lambda *a: pytest.fail("derived a key from a refused file"))
    NEGATIVE_CASES["count"] += 1
    with pytest.raises(VaultFormatError) as info:
        Vault.open(case["file"].encode("utf-8"), KEY)
    assert info.value.reason == case["reason"]


@pytest.mark.parametrize("original", [KEYFILE_VAULT, V2_KEYFILE_VAULT], ids=["v1", "v2"])
def test_every_byte_flip_is_detected(original):
    flips = [0xFF] + [1 << bit for bit in range(8)]
    for i in range(len(original)):
        for flip in flips:
            data = bytearray(original)
            data[i] ^= flip
            refused(bytes(data))


def test_every_byte_flip_of_a_passphrase_vault_is_detected():
    key = v.derive_passphrase_key(CONTENTS["passphrase"], parse(PASSPHRASE_VAULT).kdf)
    for i in range(len(PASSPHRASE_VAULT)):
        data = bytearray(PASSPHRASE_VAULT)
        data[i] ^= 0xFF
        refused(bytes(data), key)


def test_every_truncation_is_detected():
    for length in range(len(KEYFILE_VAULT)):
        refused(KEYFILE_VAULT[:length])


def test_appended_bytes_are_detected():
    for tail in (b"\n", b" ", b"x", b"mac AAAA\n", KEYFILE_VAULT):
        refused(KEYFILE_VAULT + tail)


def _lines():
    return KEYFILE_VAULT.split(b"\n")


def _sealed(line: bytes) -> bytes:
    return line.rsplit(b" ", 1)[1]


def test_swapping_two_entries_ciphertexts_fails_even_with_a_valid_mac():
    lines = _lines()
    a, b = lines[5], lines[7]
    lines[5] = a.replace(_sealed(a), _sealed(b))
    lines[7] = b.replace(_sealed(b), _sealed(a))
    swapped = b"\n".join(lines)
    assert isinstance(refused(swapped), VaultAuthError)  # the file MAC
    vault = Vault.open(remac(swapped), KEY)               # past the MAC: the AAD binds the name
    NEGATIVE_CASES["count"] += 2
    for name in ("github_token", "openai_api_key"):
        with pytest.raises(VaultAuthError):
            vault.get(name)


def test_renaming_an_entry_fails_even_with_a_valid_mac():
    renamed = KEYFILE_VAULT.replace(b"entry openai_api_key", b"entry openai_api_kez")
    assert isinstance(refused(renamed), VaultAuthError)
    vault = Vault.open(remac(renamed), KEY)
    NEGATIVE_CASES["count"] += 1
    with pytest.raises(VaultAuthError):
        vault.get("openai_api_kez")


def test_entry_copied_from_another_vault_fails_even_with_the_same_data_key():
    data_key = b"\x42" * 32
    one = Vault.create(KEY, rand=counter_rand("one"), data_key=data_key)
    two = Vault.create(KEY, rand=counter_rand("two"), data_key=data_key)
    one.set("openai_api_key", "fake-canary-one")
    two.set("openai_api_key", "fake-canary-two")
    two.entries["openai_api_key"] = one.entries["openai_api_key"]
    NEGATIVE_CASES["count"] += 1
    with pytest.raises(VaultAuthError):  # the vault id in the AAD
        Vault.open(two.to_bytes(), KEY).get("openai_api_key")


def test_deleting_reordering_or_rolling_back_one_entry_is_detected():
    lines = V2_KEYFILE_VAULT.split(b"\n")
    refused(b"\n".join(lines[:6] + lines[7:]))                          # delete
    refused(b"\n".join(lines[:5] + [lines[6], lines[5]] + lines[7:]))    # reorder
    vault = Vault.open(V2_KEYFILE_VAULT, KEY)
    vault.set("github_token", "fake-canary-newer")
    vault.generation += 1
    newer = vault.to_bytes().split(b"\n")
    assert newer[5] != lines[5]
    newer[5] = lines[5]                                                # one entry rolled back
    refused(b"\n".join(newer))
    refused(V2_KEYFILE_VAULT.replace(b"generation 3", b"generation 4"))  # counter moved alone


def test_wrapped_key_from_another_vault_or_master_line_is_refused():
    other = Vault.create(KEY, rand=counter_rand("other"))
    wrap = other.to_bytes().split(b"\n")[3]
    lines = _lines()
    lines[3] = wrap
    assert isinstance(refused(remac(b"\n".join(lines))), VaultAuthError)  # vault id in the wrap AAD


def test_wrong_key_and_wrong_passphrase_are_the_same_uninformative_error():
    wrong_key = refused(KEYFILE_VAULT, b"\x00" * 32)
    vf = parse(PASSPHRASE_VAULT)
    wrong_pass = refused(PASSPHRASE_VAULT, v.derive_passphrase_key("fake-wrong-passphrase", vf.kdf))
    assert type(wrong_key) is type(wrong_pass) is VaultAuthError
    assert wrong_key.message == wrong_pass.message
    assert "wrong key/passphrase, or the vault was modified" in wrong_key.message


def test_kdf_caps_are_checked_before_any_work(monkeypatch):
    monkeypatch.setattr(crypto, "scrypt", lambda *a: pytest.fail("scrypt ran"))
    params = v.ScryptParams(30, 8, 1, b"s" * 16)
    NEGATIVE_CASES["count"] += 1
    with pytest.raises(VaultFormatError) as info:
        v.derive_passphrase_key("fake-passphrase", params)
    assert info.value.reason == "kdf_too_large"


def test_caller_mistakes_get_specific_errors():
    with pytest.raises(ValueError):
        Vault.open(KEYFILE_VAULT, b"short")
    vault = Vault.open(KEYFILE_VAULT, KEY)
    for bad in ("", ".hidden", "has space", "x" * 257, "ünï"):
        with pytest.raises(InputError):
            vault.set(bad, "fake-value")
    with pytest.raises(InputError):
        vault.set("ok", "")
    with pytest.raises(InputError):
        vault.set("ok", "x" * (v.MAX_VALUE_LEN + 1))


# ---- properties of what the writer produces ------------------------------------------------

def test_every_encryption_uses_a_fresh_nonce():
    vault = Vault.create(KEY)
    nonces = set()
    for _ in range(50):
        vault.set("openai_api_key", "fake-canary-value")
        nonces.add(vault.entries["openai_api_key"].sealed[: v.NONCE_LEN])
    rekeyed = vault.rekey(KEY, None)
    nonces.add(rekeyed.entries["openai_api_key"].sealed[: v.NONCE_LEN])
    nonces.add(rekeyed.wrapped_key[: v.NONCE_LEN])
    assert len(nonces) == 52


def test_new_passphrase_vaults_use_owasp_or_stronger_scrypt():
    params = v.new_scrypt_params()
    assert (1 << params.log_n, params.r, params.p) >= (1 << 17, 8, 1)
    assert params.log_n >= 17 and params.r >= 8 and params.p >= 1 and len(params.salt) == 16
    params.check()  # the defaults are inside the caps


def test_round_trip_and_fingerprint():
    vault = Vault.create(KEY)
    vault.set("openai_api_key", "fake-canary-round-trip")
    again = Vault.open(vault.to_bytes(), KEY)
    assert again.get("openai_api_key") == "fake-canary-round-trip"
    fp = again.fingerprint("openai_api_key")
    assert len(fp) == 8 and int(fp, 16) >= 0 and fp == vault.fingerprint("openai_api_key")
    other = Vault.create(b"\x01" * 32)
    other.set("openai_api_key", "fake-canary-round-trip")
    assert other.fingerprint("openai_api_key") != fp  # keyed per master key: not a plain hash




def test_scrypt_caps_at_their_exact_edges():
    """Mutation testing found these edges untested: each bound is inclusive, one step past refused."""
    salt = b"s" * 16
    for ok in ((10, 1, 1), (20, 8, 1), (10, 32, 1), (10, 1, 16), (17, 8, 16)):
        v.ScryptParams(*ok, salt).check()
    for too_much in ((21, 1, 1), (20, 9, 1), (10, 33, 1), (10, 1, 17), (18, 8, 16)):
        with pytest.raises(VaultFormatError) as info:
            v.ScryptParams(*too_much, salt).check()
        assert info.value.reason == "kdf_too_large", too_much
    for nonsense in ((9, 8, 1), (10, 0, 1), (10, 8, 0)):
        with pytest.raises(VaultFormatError) as info:
            v.ScryptParams(*nonsense, salt).check()
        assert info.value.reason == "corrupted", nonsense


def test_entry_names_show_in_errors_only_when_short():
    from openai_skill.secrets.names import check_name

    assert check_name("a._:/#-b") == "a._:/#-b"
    with pytest.raises(InputError) as info:
        check_name("x" * 63 + " ")
    assert repr("x" * 63 + " ") in info.value.message
    with pytest.raises(InputError) as info:
        check_name("x" * 64 + " ")
    assert "'str'" in info.value.message and "x" * 64 not in info.value.message
    with pytest.raises(InputError) as info:
        check_name(7)
    assert "'int'" in info.value.message


def test_a_value_of_exactly_the_maximum_size_is_kept():
    vault = Vault.create(KEY)
    vault.set("big", "x" * v.MAX_VALUE_LEN)
    assert Vault.open(vault.to_bytes(), KEY).get("big") == "x" * v.MAX_VALUE_LEN
