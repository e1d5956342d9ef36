"""Text from Redis made safe to show, and URLs with their secrets masked."""

from __future__ import annotations

import pytest

from relier.display import REPLACEMENT, redact_url, safe_text

ESC, BEL = "\x1b", "\x07"


@pytest.mark.parametrize("attack", [
    "\x1b]0;pwned\x07",            # OSC: set the terminal title
    "\x1b]8;;https://evil/\x1b\\",  # OSC 8: a hidden hyperlink
    "\x1b[2J\x1b[H",               # CSI: clear the screen, cursor home
    "\x1b[31mred\x1b[0m",          # CSI: colours
    "\x1bc",                       # RIS: reset the terminal
])
def test_escape_sequences_lose_their_control_characters(attack: str) -> None:
    shown = safe_text(f"billing.{attack}.charge")
    assert ESC not in shown
    assert BEL not in shown
    assert REPLACEMENT in shown
    assert shown.startswith("billing.")
    assert shown.endswith(".charge")


def test_every_control_character_is_replaced_one_for_one() -> None:
    c0 = "".join(chr(code) for code in range(0x20) if code not in {0x09})
    c1 = "".join(chr(code) for code in range(0x7F, 0xA0))
    shown = safe_text(c0 + c1)
    assert shown == REPLACEMENT * (len(c0) + len(c1))


def test_c1_csi_and_next_line_are_replaced() -> None:
    assert safe_text("a\x9b31mb\x85c") == f"a{REPLACEMENT}31mb{REPLACEMENT}c"


@pytest.mark.parametrize("char", ["\u202e", "\u202d", "\u2066", "\u2069", "\u200b", "\u200f",
                                  "\ufeff"])
def test_bidi_overrides_and_invisible_characters_are_replaced(char: str) -> None:
    shown = safe_text(f"invoice{char}fdp.exe")
    assert char not in shown
    assert shown == f"invoice{REPLACEMENT}fdp.exe"


def test_printable_unicode_is_kept() -> None:
    assert safe_text("café ☕ 日本 [bold]x[/]") == "café ☕ 日本 [bold]x[/]"


def test_bytes_with_invalid_utf8_are_decoded_with_replacement() -> None:
    assert safe_text(b"ok \xff\xfe end") == f"ok {REPLACEMENT}{REPLACEMENT} end"
    assert safe_text(bytearray(b"\x1b[1m")) == f"{REPLACEMENT}[1m"
    assert safe_text(memoryview(b"caf\xc3\xa9")) == "café"


def test_non_text_values_are_shown_as_their_str() -> None:
    assert safe_text(42) == "42"
    assert safe_text(None) == "None"


def test_newlines_are_replaced_unless_kept() -> None:
    traceback = "Traceback:\r\n  File \"x\"\n\tboom\x1b[2K"
    assert safe_text(traceback) == (f"Traceback:{REPLACEMENT}{REPLACEMENT}  File \"x\""
                                    f"{REPLACEMENT} boom{REPLACEMENT}[2K")
    kept = safe_text(traceback, keep_newlines=True)
    assert kept == f"Traceback:\n  File \"x\"\n\tboom{REPLACEMENT}[2K"
    assert safe_text("a\rb", keep_newlines=True) == f"a{REPLACEMENT}b"


def test_limit_truncates_with_an_ellipsis() -> None:
    assert safe_text("abcdefgh", limit=5) == "abcd…"
    assert safe_text("abc", limit=5) == "abc"
    assert safe_text("abcdef", limit=6) == "abcdef"
    assert len(safe_text("\x1b" * 100, limit=10)) == 10


def test_redact_url_masks_the_userinfo_password() -> None:
    assert redact_url("redis://user:s3cret@cache:6379/0") == "redis://user:***@cache:6379/0"
    assert redact_url("rediss://:s3cret@cache:6380/1") == "rediss://:***@cache:6380/1"
    assert redact_url("redis://s3cret@cache:6379") == "redis://***@cache:6379"


def test_redact_url_masks_secret_query_parameters() -> None:
    shown = redact_url("redis://cache:6379/0?password=s3cret&socket_timeout=5")
    assert "s3cret" not in shown
    assert "password=***" in shown
    assert "socket_timeout=5" in shown
    assert "s3cret" not in redact_url("redis://cache/0?token=s3cret&client_secret=s3cret")


def test_redact_url_masks_both_passwords_of_a_sentinel_url() -> None:
    url = "redis+sentinel://:pw@h1:26379,h2:26379/mymaster/0?sentinel_password=sp"
    shown = redact_url(url)
    assert shown == "redis+sentinel://:***@h1:26379,h2:26379/mymaster/0?sentinel_password=***"


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:6379/0",
    "rediss://cache.internal:6380/2?ssl_cert_reqs=required",
    "redis+sentinel://h1:26379,h2:26379/mymaster/0",
    "redis://cache:6379/0?socket_timeout=5&health_check_interval=10",
])
def test_redact_url_leaves_urls_without_secrets_unchanged(url: str) -> None:
    assert redact_url(url) == url


def test_redact_url_replaces_control_characters() -> None:
    shown = redact_url("redis://cache:6379/0?client_name=\x1b]0;pwned\x07")
    assert ESC not in shown
    assert BEL not in shown


def test_mask_secrets_masks_by_key_and_by_text() -> None:
    from relier.display import MASK, mask_secrets

    words = ("password", "token")
    value = {"user": "ann", "Password": "hunter2", "nested": [{"api_token": 1}, "x-TOKEN-y"],
             "pair": ("ok", b"password=1")}
    assert mask_secrets(value, words) == {
        "user": "ann", "Password": MASK, "nested": [{"api_token": MASK}, MASK],
        "pair": ("ok", MASK)}
    assert mask_secrets(value, ()) == value
