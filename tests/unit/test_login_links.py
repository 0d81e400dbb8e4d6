"""Login links: stable, unguessable, bound to one programme and uniqId and to the secret."""

import pytest

from services.api.links import LinkSigner, Login

SIGNER = LinkSigner("a secret of the tests")


def test_a_link_is_stable_and_names_its_customer() -> None:
    token = SIGNER.token(Login("default", "12345678"))
    assert token == SIGNER.token(Login("default", "12345678"))
    assert SIGNER.verify(token) == Login("default", "12345678")


def test_links_differ_by_customer_programme_and_secret() -> None:
    tokens = {
        SIGNER.token(Login("default", "a")),
        SIGNER.token(Login("default", "b")),
        SIGNER.token(Login("bank", "a")),
        LinkSigner("another secret").token(Login("default", "a")),
    }
    assert len(tokens) == 4


def test_a_uniq_id_with_any_characters_round_trips() -> None:
    login = Login("bank", "ünï/cøde 42.\x1f?#")
    assert SIGNER.verify(SIGNER.token(login)) == login


@pytest.mark.parametrize("forged", [
    "", ".", "..", "abc", "abc.def", "ZGVmYXVsdB9h.!!!", "ZGVmYXVsdB9h." + "A" * 43,
    "x" * 1000 + "." + "y" * 43, "ZGVmYXVsdB9h.é",
])
def test_a_forged_or_mangled_token_is_refused(forged: str) -> None:
    assert SIGNER.verify(forged) is None


def test_a_token_under_another_secret_or_for_another_customer_is_refused() -> None:
    token = LinkSigner("another secret").token(Login("default", "a"))
    assert SIGNER.verify(token) is None
    text, signature = SIGNER.token(Login("default", "a")).split(".")
    other, _ = SIGNER.token(Login("default", "b")).split(".")
    assert SIGNER.verify(f"{other}.{signature}") is None
    assert SIGNER.verify(f"{text}.{signature[:-2]}") is None
