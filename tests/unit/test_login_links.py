"""Login links: unguessable, expiring, bound to one programme, uniqId, link version and secret."""

import base64
from datetime import timedelta

import pytest

from services.api.links import LinkSigner, Login, Refusal
from tests.support.links import spellings

NOW = 1_800_000_000.0


def signer(secret: str = "a secret of the tests", at: float = NOW) -> LinkSigner:
    return LinkSigner(secret, timedelta(days=30), clock=lambda: at)


SIGNER = signer()


def test_a_link_names_its_customer_version_and_expiry() -> None:
    token, expires_at = SIGNER.token("default", "12345678", 3)

    assert SIGNER.verify(token) == Login("default", "12345678", 3, int(NOW) + 30 * 86400)
    assert expires_at.timestamp() == int(NOW) + 30 * 86400


def test_a_link_expires_after_its_time() -> None:
    token, _ = SIGNER.token("default", "a", 0)

    assert isinstance(signer(at=NOW + 30 * 86400 - 1).verify(token), Login)
    assert signer(at=NOW + 30 * 86400).verify(token) is Refusal.EXPIRED


def test_links_differ_by_customer_programme_version_and_secret() -> None:
    tokens = {
        SIGNER.token("default", "a", 0)[0], SIGNER.token("default", "b", 0)[0],
        SIGNER.token("bank", "a", 0)[0], SIGNER.token("default", "a", 1)[0],
        signer("another secret").token("default", "a", 0)[0],
    }
    assert len(tokens) == 5


def test_a_uniq_id_with_any_characters_round_trips() -> None:
    token, _ = SIGNER.token("bank", "ünï/cøde 42.\x1f?#\x1f9", 7)
    login = SIGNER.verify(token)
    assert isinstance(login, Login)
    assert (login.programme, login.uniq_id, login.version) == ("bank", "ünï/cøde 42.\x1f?#\x1f9", 7)


@pytest.mark.parametrize("forged", [
    "", ".", "..", "abc", "abc.def", "ZGVmYXVsdB9h.!!!", "ZGVmYXVsdB9h." + "A" * 43,
    "x" * 1000 + "." + "y" * 43, "ZGVmYXVsdB9h.é",
])
def test_a_forged_or_mangled_token_is_refused(forged: str) -> None:
    assert SIGNER.verify(forged) is Refusal.FORGED


def test_a_token_under_another_secret_or_for_another_customer_is_refused() -> None:
    token, _ = signer("another secret").token("default", "a", 0)
    assert SIGNER.verify(token) is Refusal.FORGED
    text, signature = SIGNER.token("default", "a", 0)[0].split(".")
    other, _ = SIGNER.token("bank", "a", 0)[0].split(".")
    later, _ = SIGNER.token("default", "a", 1)[0].split(".")
    assert SIGNER.verify(f"{other}.{signature}") is Refusal.FORGED  # another programme
    assert SIGNER.verify(f"{later}.{signature}") is Refusal.FORGED  # another version
    assert SIGNER.verify(f"{text}.{signature[:-2]}") is Refusal.FORGED


def lenient(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_only_the_one_canonical_spelling_of_a_token_opens_anything() -> None:
    token, _ = SIGNER.token("default", "ann", 0)
    assert isinstance(SIGNER.verify(token), Login)
    variants = spellings(token)
    assert lenient(variants["unused bits set"].split(".")[1]) == lenient(token.split(".")[1])

    for name, variant in variants.items():
        assert SIGNER.verify(variant) is Refusal.FORGED, name


def test_a_rotated_secret_keeps_its_links_open_while_new_links_use_the_new_one() -> None:
    old_link, _ = signer("the secret before the rotation").token("default", "a", 0)
    rotated = LinkSigner("the secret after the rotation", timedelta(days=30), clock=lambda: NOW,
                         previous=["the secret before the rotation"])
    new_link, _ = rotated.token("default", "a", 0)

    assert rotated.verify(old_link) == Login("default", "a", 0, int(NOW) + 30 * 86400)
    assert isinstance(signer("the secret after the rotation").verify(new_link), Login)
    assert signer("the secret before the rotation").verify(new_link) is Refusal.FORGED
    assert signer("the secret after the rotation").verify(old_link) is Refusal.FORGED


def test_a_previous_secret_must_be_as_strong_as_the_secret() -> None:
    from services.settings import Settings

    strong = "s" * 40
    weak = Settings(dev_mode=False, link_secret=strong, api_keys="k" * 30 + ":default",
                    master_key="ab" * 32,
                    link_previous_secrets=f"{strong}x, short")
    assert any("LOYALTY_LINK_PREVIOUS_SECRETS" in problem for problem in weak.insecure())
    fine = Settings(dev_mode=False, link_secret=strong, api_keys="k" * 30 + ":default",
                    master_key="ab" * 32,
                    link_previous_secrets=f"{strong}x")
    assert fine.insecure() == [] and fine.previous_link_secrets() == [f"{strong}x"]
