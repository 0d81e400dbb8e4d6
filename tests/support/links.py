"""Other spellings of a login link's token, for the tests that prove they open nothing."""

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def spellings(token: str) -> dict[str, str]:
    """Other spellings of a token whose parts a lenient base64 reader decodes to the same
    bytes: padded, with a stray character, with whitespace, in the standard alphabet, with the
    last character's unused bits set (a signature of 32 bytes leaves two). A spelling that is
    the token itself (no `-` or `_` to swap) is left out."""
    text, signature = token.split(".")
    last = ALPHABET[ALPHABET.index(signature[-1]) ^ 1]
    variants = {
        "padded": f"{text}.{signature}=",
        "stray character": f"{text}.{signature}!",
        "trailing newline": f"{token}\n",
        "whitespace": f"{text[:4]} {text[4:]}.{signature}",
        "standard alphabet": token.replace("-", "+").replace("_", "/"),
        "unused bits set": f"{text}.{signature[:-1]}{last}",
    }
    return {name: variant for name, variant in variants.items() if variant != token}
