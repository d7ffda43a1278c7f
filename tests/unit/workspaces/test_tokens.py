"""TokenCipher: tokens encrypted with the first key, read with any, re-encrypted on rotation."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.errors import ConfigError, TokenKeyError
from bot.workspaces.tokens import TokenCipher, new_key

TOKEN = "xoxb-1111-2222-sEcReTbOtToKeN"


def test_a_token_comes_back_and_is_not_in_the_stored_text() -> None:
    cipher = TokenCipher([new_key()])
    stored = cipher.encrypt(TOKEN)
    assert TOKEN not in stored and "sEcReT" not in stored
    assert cipher.decrypt(stored) == TOKEN
    assert cipher.encrypt(TOKEN) != stored  # a fresh IV each time: equal tokens look unequal


def test_from_the_setting_newest_key_first() -> None:
    old, new = new_key(), new_key()
    stored_old = TokenCipher([old]).encrypt(TOKEN)
    both = TokenCipher.from_setting(SecretStr(f" {new} , {old} ,"))
    assert both.key_count == 2
    assert both.decrypt(stored_old) == TOKEN  # the old key still opens the old texts
    stored_new = both.encrypt(TOKEN)
    assert TokenCipher([new]).decrypt(stored_new) == TOKEN  # written with the first key
    with pytest.raises(TokenKeyError):
        TokenCipher([old]).decrypt(stored_new)


def test_rotate_re_encrypts_with_the_first_key() -> None:
    old, new = new_key(), new_key()
    stored = TokenCipher([old]).encrypt(TOKEN)
    rotated = TokenCipher([new, old]).rotate(stored)
    assert rotated != stored
    assert TokenCipher([new]).decrypt(rotated) == TOKEN  # the old key can now be dropped
    with pytest.raises(TokenKeyError):
        TokenCipher([old]).decrypt(rotated)


def test_a_wrong_key_is_a_clear_error_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    stored = TokenCipher([new_key()]).encrypt(TOKEN)
    wrong = TokenCipher([new_key()])
    for action in (wrong.decrypt, wrong.rotate):
        with pytest.raises(TokenKeyError) as info:
            action(stored)
        assert isinstance(info.value, ConfigError)
        message = str(info.value)
        assert "TOKEN_ENCRYPTION_KEY" in message and "rotate-key" in message
        assert TOKEN not in message and stored not in message
        assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(TokenKeyError):
        wrong.decrypt("not even a Fernet text")
    assert TOKEN not in caplog.text and stored not in caplog.text


@pytest.mark.parametrize("keys", [[], ["short"], [new_key()[:-2]], ["é" * 44], [new_key(), "x"]])
def test_malformed_keys_say_what_a_key_is_without_quoting_it(keys: list[str]) -> None:
    with pytest.raises(ValueError, match="Fernet keys") as info:
        TokenCipher(keys)
    for key in keys:
        if len(key) > 2:
            assert key not in str(info.value)


def test_new_keys_are_fernet_keys_and_differ() -> None:
    a, b = new_key(), new_key()
    assert a != b
    Fernet(a)
    assert repr(TokenCipher([a, b])) == "TokenCipher(2 key(s))"
