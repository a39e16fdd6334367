"""SMTP URLs and the messages the sender builds (no I/O)."""

import email
from email import policy

import pytest

from infra.mailer import SmtpTarget, build_message, parse_smtp_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpTarget("mail.example.com", 25)),
        ("smtp://127.0.0.1:2525", SmtpTarget("127.0.0.1", 2525)),
        (
            "smtp://news%40shop:p%3Ass@mail.example.com:587?starttls=1",
            SmtpTarget("mail.example.com", 587, "news@shop", "p:ss", starttls=True),
        ),
        ("smtps://mail.example.com", SmtpTarget("mail.example.com", 465, implicit_tls=True)),
        (
            "smtp://mail.example.com?from=news@shop.example.com",
            SmtpTarget("mail.example.com", 25, sender="news@shop.example.com"),
        ),
    ],
)
def test_smtp_urls_name_the_server_credentials_and_tls(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com:25"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="CRM_SMTP_URL"):
        parse_smtp_url(url)


def test_a_target_never_shows_its_password() -> None:
    assert "secret" not in repr(parse_smtp_url("smtp://u:secret@mail.example.com"))


def message(**changes: str) -> email.message.EmailMessage:
    built = build_message(
        **{
            "sender": "crm@crm.example.com",
            "to_name": "Ada Lovelace",
            "to_address": "ada@example.com",
            "subject": "Spring, Ada",
            "html": "<p>Hi Ada</p>",
            "text": "Hi Ada\n",
            "message_id": "<c.a@crm.example.com>",
        }
        | changes
    )
    return email.message_from_bytes(built.as_bytes(), policy=policy.default)


def test_a_message_has_its_headers_the_recorded_message_id_and_two_parts() -> None:
    received = message()
    assert received["From"] == "crm@crm.example.com"
    assert received["To"] == "Ada Lovelace <ada@example.com>"
    assert received["Subject"] == "Spring, Ada"
    assert received["Message-ID"] == "<c.a@crm.example.com>"
    assert received.get_content_type() == "multipart/alternative"
    assert received.get_all("MIME-Version") == ["1.0"]
    parts = {p.get_content_type(): p.get_content().strip() for p in received.iter_parts()}
    assert parts == {"text/plain": "Hi Ada", "text/html": "<p>Hi Ada</p>"}


def test_line_breaks_in_a_name_or_subject_add_no_header() -> None:
    received = message(
        to_name="Eve\r\nBcc: victim@example.com", subject="Hi\nBcc: victim@example.com"
    )
    assert received["Bcc"] is None
    assert received.get_all("To") == ['"Eve Bcc: victim@example.com" <ada@example.com>']
    assert received["Subject"] == "Hi Bcc: victim@example.com"


def test_non_ascii_names_and_subjects_are_encoded() -> None:
    raw = build_message(
        sender="crm@crm.example.com",
        to_name="Zoë Ünal",
        to_address="zoe@example.com",
        subject="Grüße",
        html="<p>é</p>",
        text="é",
        message_id="<m@x>",
    ).as_bytes()
    assert raw.isascii()
    received = email.message_from_bytes(raw, policy=policy.default)
    assert (received["To"], received["Subject"]) == ("Zoë Ünal <zoe@example.com>", "Grüße")
