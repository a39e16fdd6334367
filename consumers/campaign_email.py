"""One customer's copy of a campaign email, pure functions: the links it tracks, the links
rewritten to tracked URLs, the open pixel, a plain-text part, and the message they make.

HTML is read with the standard library's `html.parser`, never with regular expressions. The
tracked links are the `<a href>` targets that are http(s) URLs (not `mailto:`, `tel:` or
`#anchors`), in document order: the i-th is recorded as EmailSent's `links[i]` and rewritten
to the click URL of index i.

A link target (`href`, `src` and the other URL_ATTRIBUTES of any tag) that could do more
than open a page or a mail or phone app (`javascript:`, `data:`, `vbscript:`... however its
characters are written) is removed, and so are event handlers (`onclick`...), `srcdoc` and a
meta refresh: a customer's field rendered into an attribute cannot become a script.
Everything else in the HTML is kept byte for byte.
"""

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from commands.campaigns import RecordEmailSend
from infra import tracking
from infra.mailer import build_message, parse_smtp_url
from infra.settings import Settings

MAX_URL = 2000
"""Longest link that is tracked (as RecordEmailSend takes it); longer ones are left alone."""
MAX_TRACKED = RecordEmailSend.model_fields["links"].metadata[0].max_length
URL_ATTRIBUTES = frozenset(
    {"href", "src", "xlink:href", "action", "formaction", "background", "poster", "data"}
    | {"lowsrc", "dynsrc", "longdesc", "cite", "codebase", "ping"}
)
"""Attributes whose value a mail client may follow or load as a URL."""
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
IGNORED_IN_URLS = str.maketrans("", "", "\t\n\r")
"""What a browser removes anywhere in a URL before reading it."""
STRIPPED_AROUND_URLS = "".join(map(chr, range(0x21)))
"""What a browser strips around a URL: C0 controls and the space."""
BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr"}
HIDDEN = {"script", "style", "head", "title"}


def trackable(href: str | None) -> bool:
    """Whether a link target is tracked: an http(s) URL RecordEmailSend accepts."""
    target = (href or "").strip()
    return target.lower().startswith(("http://", "https://")) and len(target) <= MAX_URL


def safe_url(value: str) -> bool:
    """Whether a link target can only open a page or a mail or phone app: an http(s),
    mailto or tel URL, or one without a scheme (a relative path, an `#anchor`). It is read
    as a browser reads it: character references decoded (`&#x09;`, as html.parser gives
    attribute values), tabs and newlines removed, controls and spaces around it stripped;
    a colon before any `/`, `?` or `#` starts a scheme."""
    target = value.translate(IGNORED_IN_URLS).strip(STRIPPED_AROUND_URLS)
    scheme, colon, _ = target.partition(":")
    if not colon or any(mark in scheme for mark in "/?#"):
        return True
    return scheme.isascii() and scheme.lower() in SAFE_SCHEMES


def _unsafe(tag: str, name: str, value: str | None) -> bool:
    """Whether an attribute could run a script: an unsafe link target, an event handler
    (`onclick`...), a document (`srcdoc`), or a `<meta http-equiv="refresh">` (which goes
    wherever its content says)."""
    if name in URL_ATTRIBUTES:
        return value is not None and not safe_url(value)
    if name.startswith("on") or name == "srcdoc":
        return True
    return tag == "meta" and name == "http-equiv" and (value or "").strip().lower() == "refresh"


@dataclass(frozen=True)
class _Tag:
    """A start tag to write again: where it is, its name and attributes, and whether it is
    a tracked link."""

    start: int
    end: int
    name: str
    attrs: list[tuple[str, str | None]]
    tracked: bool


class _Tags(HTMLParser):
    """Finds the start tags to write again: the tracked `<a>` links and the tags with an
    unsafe link target; and where the last `</body>` is."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0]
        for line in html.splitlines(keepends=True):
            self._line_starts.append(self._line_starts[-1] + len(line))
        self.tags: list[_Tag] = []
        self.tracked = 0
        self.body_end: int | None = None
        self.feed(html)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        tracked = tag == "a" and trackable(href) and self.tracked < MAX_TRACKED
        if tracked or any(_unsafe(tag, name, value) for name, value in attrs):
            start = self._offset()
            end = start + len(self.get_starttag_text() or "")
            self.tags.append(_Tag(start, end, tag, attrs, tracked))
            self.tracked += tracked

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self.body_end = self._offset()


def links(html: str) -> list[str]:
    """The tracked links' targets, in order (entities decoded: `&amp;` is `&`)."""
    return [(dict(tag.attrs)["href"] or "").strip() for tag in _Tags(html).tags if tag.tracked]


def tracked(html: str, click_url: Callable[[int], str], pixel_url: str) -> str:
    """The HTML with the i-th tracked link pointing at `click_url(i)`, unsafe link targets
    removed (see `safe_url`), and the open pixel before `</body>` (or at the end)."""
    found = _Tags(html)
    pieces, done, index = [], 0, 0
    for tag in found.tags:
        href = click_url(index) if tag.tracked else None
        pieces += [html[done : tag.start], _start_tag(tag, href)]
        done, index = tag.end, index + tag.tracked
    rest = html[done:]
    pixel = f'<img src="{escape(pixel_url)}" width="1" height="1" alt="">'
    at = found.body_end - done if found.body_end is not None else len(rest)
    return "".join([*pieces, rest[:at], pixel, rest[at:]])


def _start_tag(tag: _Tag, href: str | None) -> str:
    """The tag written again: `href` as given (if any), without its unsafe attributes."""
    parts = [tag.name]
    for name, given in tag.attrs:
        value = href if href is not None and name == "href" else given
        if not _unsafe(tag.name, name, value):
            parts.append(name if value is None else f'{name}="{escape(value)}"')
    return f"<{' '.join(parts)}>"


class _Text(HTMLParser):
    """The readable text of an HTML body, links shown as `text (url)`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._hidden = 0
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self._hidden += 1
        elif tag in BLOCKS:
            self.out.append("\n")
        elif tag == "a":
            self._href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "a" and self._href:
            href = self._href.pop()
            if href:
                self.out.append(f" ({href})")
        elif tag in BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.out.append(data)


def plain_text(html: str) -> str:
    """A plain-text rendering of the HTML for the text/plain part."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.out).splitlines())
    text, blank = [], True
    for line in lines:
        if line or not blank:
            text.append(line)
        blank = not line
    return "\n".join(text).strip() + "\n"


@dataclass(frozen=True)
class Tracking:
    """What tracked links and the messages' headers are made of."""

    public_url: str
    secret: bytes
    sender: str
    domain: str

    def message_id(self, campaign_id: UUID, customer_id: UUID) -> str:
        """The Message-ID of a customer's copy: the same on every attempt."""
        return f"<{campaign_id}.{customer_id}@{self.domain}>"


def tracking_for(settings: Settings, secret: bytes) -> Tracking:
    """Tracked links' base, key, the From address and the Message-ID domain."""
    public_url = settings.public_url or ""
    domain = urlsplit(public_url).hostname or "localhost"
    target = parse_smtp_url(settings.smtp_url or "")
    return Tracking(public_url, secret, target.sender or f"crm@{domain}", domain)


def compose(
    t: Tracking, campaign_id: UUID, row: dict[str, Any], subject: str, html: str, message_id: str
) -> EmailMessage | None:
    """A customer's message (`row`: their customer_360 columns) with tracked links and the
    pixel; None for an address the email package cannot write."""
    customer_id = row["customer_id"]
    html = tracked(
        html,
        lambda i: tracking.click_url(
            t.public_url, tracking.sign_click(t.secret, campaign_id, customer_id, i)
        ),
        tracking.open_url(t.public_url, tracking.sign_open(t.secret, campaign_id, customer_id)),
    )
    try:
        return build_message(
            sender=t.sender,
            to_name=row["name"],
            to_address=row["email"] or "",
            subject=subject,
            html=html,
            text=plain_text(html),
            message_id=message_id,
        )
    except ValueError:
        return None
