"""SMTP: where `CRM_SMTP_URL` points, the messages sent there, and one reused connection.

`CRM_SMTP_URL` forms:
  smtp://host:port                 plain SMTP (port 25 by default)
  smtp://user:password@host:port   with AUTH (user and password percent-encoded)
  smtp://host:587?starttls=1       STARTTLS before AUTH
  smtps://host:465                 implicit TLS (port 465 by default)
and `?from=news@example.com` for the sender address (default `crm@` the public URL's host).
"""

import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
TRUE = ("1", "true", "yes", "on")


class SmtpUnavailable(Exception):
    """The SMTP server could not take the message now (unreachable, 4xx): try again later."""


class Rejected(Exception):
    """The SMTP server refused this message for good (5xx): it bounced."""

    def __init__(self, code: int) -> None:
        super().__init__(f"smtp {code}")
        self.code = code


class SmtpRefusedLogin(Exception):
    """The SMTP server refused the credentials of CRM_SMTP_URL: no use trying again."""


@dataclass(frozen=True)
class SmtpTarget:
    """An SMTP server and how to talk to it."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False
    sender: str | None = None

    def __repr__(self) -> str:  # never show the password
        return f"SmtpTarget({self.host}:{self.port}, tls={self.implicit_tls or self.starttls})"


def parse_smtp_url(url: str) -> SmtpTarget:
    """The server named by a CRM_SMTP_URL; ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("CRM_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("CRM_SMTP_URL names no host")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=parts.scheme == "smtps",
        starttls=query.get("starttls", "").lower() in TRUE,
        sender=query.get("from"),
    )


def build_message(
    *,
    sender: str,
    to_name: str | None,
    to_address: str,
    subject: str,
    html: str,
    text: str,
    message_id: str,
) -> EmailMessage:
    """A multipart/alternative message (plain text, then HTML). Header values are single
    lines: line breaks in a name or subject cannot add headers."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = Address(display_name=_one_line(to_name or ""), addr_spec=_one_line(to_address))
    message["Subject"] = _one_line(subject)
    message["Message-ID"] = _one_line(message_id)
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def _one_line(value: str) -> str:
    return " ".join(value.split())


class Mailer:
    """One SMTP connection, opened on first use and reused for every message after."""

    def __init__(self, target: SmtpTarget, timeout: float = 30.0) -> None:
        self._target = target
        self._timeout = timeout
        self._client: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        """Hands one message over: SmtpUnavailable (try again) or Rejected (bounced)."""
        client = self._connected()
        try:
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            self._answered(min(code for code, _ in error.recipients.values()))
        except smtplib.SMTPResponseException as error:
            self._answered(error.smtp_code)
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise SmtpUnavailable(type(error).__name__) from None

    def close(self) -> None:
        """Ends the connection (QUIT if it still answers)."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _answered(self, code: int) -> None:
        if 500 <= code < 600:
            self._reset()
            raise Rejected(code)
        self.close()
        raise SmtpUnavailable(f"smtp {code}")

    def _reset(self) -> None:
        """Leaves the connection ready for the next message after a refused one."""
        try:
            if self._client is not None:
                self._client.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def _connected(self) -> smtplib.SMTP:
        if self._client is None:
            try:
                self._client = self._connect()
            except smtplib.SMTPAuthenticationError as error:
                raise SmtpRefusedLogin(f"smtp {error.smtp_code}") from None
            except (smtplib.SMTPException, OSError) as error:
                raise SmtpUnavailable(type(error).__name__) from None
        return self._client

    def _connect(self) -> smtplib.SMTP:
        target, context = self._target, ssl.create_default_context()
        if target.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=self._timeout, context=context
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=self._timeout)
        try:
            client.ehlo()
            if target.starttls:
                client.starttls(context=context)
                client.ehlo()
            if target.username:
                client.login(target.username, target.password or "")
        except BaseException:
            client.close()
            raise
        return client
