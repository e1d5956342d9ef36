"""Secret masking in the console: pure logic."""

from __future__ import annotations

from relier.config import DEFAULT_CONSOLE_MASK, Settings
from relier_tui.masking import MASK, SecretMask

MASKER = SecretMask(Settings.from_env({}).console_mask)


def test_values_under_secret_keys_are_masked_at_any_depth() -> None:
    shown = MASKER.apply({"customer": "cus_1", "Password": "hunter2",
                          "payment": {"card_number": "4242", "amount": 5000, "API-Key": "x"},
                          "items": [{"token": "t"}, {"sku": "a"}]})
    assert shown == {"customer": "cus_1", "Password": MASK,
                     "payment": {"card_number": MASK, "amount": 5000, "API-Key": "x"},
                     "items": [{"token": MASK}, {"sku": "a"}]}


def test_secret_looking_strings_are_masked_in_positional_arguments() -> None:
    assert MASKER.apply(("cus_1", "sk_live_abc123", 5000)) == ("cus_1", MASK, 5000)
    assert MASKER.apply([b"sk_test_zz", b"plain"]) == [MASK, b"plain"]


def test_the_words_are_configurable() -> None:
    settings = Settings.from_env({"RELIER_CONSOLE_MASK": " Email , phone"})
    masker = SecretMask(settings.console_mask)
    assert masker.apply({"email": "a@b.c", "password": "p"}) == {"email": MASK, "password": "p"}
    assert "password" in DEFAULT_CONSOLE_MASK
