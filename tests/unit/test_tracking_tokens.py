"""Tracking tokens: they name a campaign, a customer and a link, reveal none of them, and any
change breaks them."""

import base64
import hashlib
import hmac
import struct
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from infra.tracking import OPEN, Claims, click_url, open_url, sign_click, sign_open, verify

SECRET = b"s" * 32
CAMPAIGN, CUSTOMER = uuid4(), uuid4()
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def first_format(secret: bytes, campaign: UUID, customer: UUID, link: int = OPEN) -> str:
    """A token as issued before tokens were encrypted: the ids and link in clear, then the
    first 20 bytes of HMAC-SHA256 of the secret over them."""
    claims = struct.pack(">16s16sH", campaign.bytes, customer.bytes, link)
    mac = hmac.new(secret, claims, hashlib.sha256).digest()[:20]
    return base64.urlsafe_b64encode(claims + mac).rstrip(b"=").decode()


def test_tokens_round_trip_to_their_claims() -> None:
    assert verify(SECRET, sign_open(SECRET, CAMPAIGN, CUSTOMER)) == Claims(CAMPAIGN, CUSTOMER, None)
    assert verify(SECRET, sign_click(SECRET, CAMPAIGN, CUSTOMER, 3)) == Claims(
        CAMPAIGN, CUSTOMER, 3
    )


def test_tokens_are_url_safe_and_carry_128_bits_of_authentication() -> None:
    token = sign_click(SECRET, CAMPAIGN, CUSTOMER, 0)
    assert set(token) <= set(ALPHABET)
    assert len(token) == 68  # (1 + 16 + 34) bytes, base64url without padding
    assert open_url("https://crm.example.com/", token) == f"https://crm.example.com/v1/t/o/{token}"
    assert click_url("https://crm.example.com", token) == f"https://crm.example.com/v1/t/c/{token}"


@given(st.uuids(), st.uuids(), st.one_of(st.none(), st.integers(0, OPEN - 1)))
def test_a_token_reveals_neither_the_customer_nor_the_campaign(campaign, customer, link) -> None:
    # Given the token of a customer's pixel or link, as a forwarded email shows it
    token = (
        sign_open(SECRET, campaign, customer)
        if link is None
        else sign_click(SECRET, campaign, customer, link)
    )
    raw = decoded(token)
    # Then neither id is in its bytes, not even a quarter of one, nor in its text
    for secret_id in (campaign, customer):
        quarters = {secret_id.bytes[i : i + 4] for i in range(0, 16, 4)}
        assert not any(quarter in raw for quarter in quarters)
        b64 = base64.urlsafe_b64encode(secret_id.bytes).decode()
        assert not any(spelling[:8] in token for spelling in (secret_id.hex, b64))
    # And it is still theirs, and the same every time it is made (a resent email's links)
    assert verify(SECRET, token) == Claims(campaign, customer, link)
    again = (
        sign_open(SECRET, campaign, customer)
        if link is None
        else sign_click(SECRET, campaign, customer, link)
    )
    assert again == token


def test_every_single_character_change_is_refused() -> None:
    token = sign_open(SECRET, CAMPAIGN, CUSTOMER)
    for position, char in enumerate(token):
        for replacement in ALPHABET.replace(char, ""):
            assert verify(SECRET, token[:position] + replacement + token[position + 1 :]) is None


def test_another_secret_truncation_padding_or_garbage_is_refused() -> None:
    token = sign_open(SECRET, CAMPAIGN, CUSTOMER)
    for wrong in (token[:-1], token + "A", token + "=", "", "not a token", "%" * 68, "%" * 72):
        assert verify(SECRET, wrong) is None
    assert verify(b"another secret", token) is None


def test_emails_sent_before_encryption_keep_working_but_only_new_tokens_are_issued() -> None:
    # Given the tokens of an email sent before tokens were encrypted
    old_open = first_format(SECRET, CAMPAIGN, CUSTOMER)
    old_click = first_format(SECRET, CAMPAIGN, CUSTOMER, 2)
    # Then they still name their recipient and link
    assert verify(SECRET, old_open) == Claims(CAMPAIGN, CUSTOMER, None)
    assert verify(SECRET, old_click) == Claims(CAMPAIGN, CUSTOMER, 2)
    # But the tokens issued now are not of that format
    assert sign_open(SECRET, CAMPAIGN, CUSTOMER) != old_open
    assert sign_click(SECRET, CAMPAIGN, CUSTOMER, 2) != old_click
    # And an old token changed, or made with another secret, is refused
    assert verify(SECRET, old_open[:-1] + ("A" if old_open[-1] != "A" else "B")) is None
    assert verify(SECRET, first_format(b"another secret", CAMPAIGN, CUSTOMER)) is None


def test_a_click_token_and_an_open_token_differ() -> None:
    assert sign_open(SECRET, CAMPAIGN, CUSTOMER) != sign_click(SECRET, CAMPAIGN, CUSTOMER, 0)
