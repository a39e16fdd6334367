"""Tracking tokens: they name a campaign, a customer and a link, and any change breaks them."""

from uuid import uuid4

from infra.tracking import Claims, click_url, open_url, sign_click, sign_open, verify

SECRET = b"s" * 32
CAMPAIGN, CUSTOMER = uuid4(), uuid4()
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_tokens_round_trip_to_their_claims() -> None:
    assert verify(SECRET, sign_open(SECRET, CAMPAIGN, CUSTOMER)) == Claims(CAMPAIGN, CUSTOMER, None)
    assert verify(SECRET, sign_click(SECRET, CAMPAIGN, CUSTOMER, 3)) == Claims(
        CAMPAIGN, CUSTOMER, 3
    )


def test_tokens_are_url_safe_and_carry_at_least_128_bits_of_mac() -> None:
    token = sign_click(SECRET, CAMPAIGN, CUSTOMER, 0)
    assert set(token) <= set(ALPHABET)
    assert len(token) == 72  # (16 + 16 + 2 + 20) bytes, base64url without padding
    assert open_url("https://crm.example.com/", token) == f"https://crm.example.com/v1/t/o/{token}"
    assert click_url("https://crm.example.com", token) == f"https://crm.example.com/v1/t/c/{token}"


def test_every_single_character_change_is_refused() -> None:
    token = sign_open(SECRET, CAMPAIGN, CUSTOMER)
    for position, char in enumerate(token):
        for replacement in ALPHABET.replace(char, ""):
            assert verify(SECRET, token[:position] + replacement + token[position + 1 :]) is None


def test_another_secret_truncation_padding_or_garbage_is_refused() -> None:
    token = sign_open(SECRET, CAMPAIGN, CUSTOMER)
    for wrong in (token[:-1], token + "A", token + "=", "", "not a token", "%" * 72):
        assert verify(SECRET, wrong) is None
    assert verify(b"another secret", token) is None


def test_a_click_token_and_an_open_token_differ() -> None:
    assert sign_open(SECRET, CAMPAIGN, CUSTOMER) != sign_click(SECRET, CAMPAIGN, CUSTOMER, 0)
