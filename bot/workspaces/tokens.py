"""Bot tokens at rest: encrypted with TOKEN_ENCRYPTION_KEY (Fernet), so a copy of the database
alone reveals none.

Several keys, comma-separated, newest first (MultiFernet): tokens are encrypted with the first
and decrypted with whichever opens them, so a new key goes in front, `python -m bot workspaces
rotate-key` re-encrypts every token with it, and only then is the old one dropped.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from bot.errors import TokenKeyError

_MALFORMED = (
    "must be Fernet keys, comma-separated (each 32 url-safe base64-encoded bytes; "
    "generate one with `python -m bot workspaces new-key`)"
)
_UNREADABLE = (
    "a stored token cannot be decrypted with TOKEN_ENCRYPTION_KEY: the key it was encrypted "
    "with is not among the keys given (keep the old key after the new one until "
    "`python -m bot workspaces rotate-key` has run)"
)


def new_key() -> str:
    """A fresh Fernet key, as TOKEN_ENCRYPTION_KEY takes it."""
    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Encrypts tokens with the first key; decrypts with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError(_MALFORMED)
        fernets = []
        for key in keys:
            try:
                fernets.append(Fernet(key.strip().encode("ascii")))
            except (ValueError, binascii.Error, UnicodeEncodeError):
                # cryptography's message does not quote the key, but ours says what to do
                raise ValueError(_MALFORMED) from None
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    @classmethod
    def from_setting(cls, value: str | SecretStr) -> TokenCipher:
        """From TOKEN_ENCRYPTION_KEY's text: keys separated by commas (blanks ignored)."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        return cls([part for part in text.split(",") if part.strip()])

    def encrypt(self, token: str) -> str:
        """The token, encrypted with the first key (a different text every time)."""
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The token a stored text holds; TokenKeyError when no key opens it."""
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise TokenKeyError(_UNREADABLE) from None

    def rotate(self, stored: str) -> str:
        """The same token re-encrypted with the first key; TokenKeyError when no key opens it."""
        try:
            return self._fernet.rotate(stored.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise TokenKeyError(_UNREADABLE) from None

    def __repr__(self) -> str:
        return f"TokenCipher({self.key_count} key(s))"  # never the keys
