"""A customer's copy of a campaign email: tracked links, the pixel, the plain-text part,
and link targets that cannot run a script."""

import re
from html import escape
from html.parser import HTMLParser

import pytest

from consumers import campaign_email
from domain.email_template import customer_fields, render

BODY = (
    "<html><body>\n<p>Hello &lt;Ada&gt;</p>\n"
    '<a class="btn" href="https://shop.example.com/a?x=1&amp;y=2">Shop</a>\n'
    '<a href="mailto:help@example.com">Mail us</a> <a href="#top">Top</a>\n'
    "<A HREF='http://blog.example.com/b'>Blog</A>\n</body></html>"
)


def click(index: int) -> str:
    return f"https://crm.example.com/v1/t/c/token-{index}?q=1&r=2"


def test_the_tracked_links_are_the_http_hrefs_in_order_entities_decoded() -> None:
    assert campaign_email.links(BODY) == [
        "https://shop.example.com/a?x=1&y=2",
        "http://blog.example.com/b",
    ]


def test_tracked_links_point_at_their_click_url_and_the_rest_is_kept() -> None:
    html = campaign_email.tracked(BODY, click, "https://crm.example.com/v1/t/o/open")
    # Given the rewritten HTML, each tracked link is its index's click URL, escaped
    assert campaign_email.links(html) == [click(0), click(1)]
    assert '<a class="btn" href="https://crm.example.com/v1/t/c/token-0?q=1&amp;r=2">' in html
    # And links that are not tracked, and the text, are left as they were
    assert '<a href="mailto:help@example.com">Mail us</a> <a href="#top">Top</a>' in html
    assert "<p>Hello &lt;Ada&gt;</p>" in html
    assert "shop.example.com" not in html


def test_the_open_pixel_goes_before_the_end_of_the_body_or_at_the_end() -> None:
    pixel = '<img src="https://crm.example.com/v1/t/o/open" width="1" height="1" alt="">'
    html = campaign_email.tracked(BODY, click, "https://crm.example.com/v1/t/o/open")
    assert html.endswith(f"Blog</A>\n{pixel}</body></html>")
    fragment = campaign_email.tracked("<p>Hi</p>", click, "https://crm.example.com/v1/t/o/open")
    assert fragment == f"<p>Hi</p>{pixel}"


def test_an_email_without_links_tracks_none() -> None:
    assert campaign_email.links("<p>No links, <a name='x'>anchor</a></p>") == []


def test_links_too_long_to_record_are_not_tracked() -> None:
    long = "https://example.com/" + "a" * 2000
    assert campaign_email.links(f'<a href="{long}">x</a><a href="https://ok.example">y</a>') == [
        "https://ok.example"
    ]


def test_the_plain_text_part_shows_text_and_link_targets_without_markup() -> None:
    html = campaign_email.tracked(
        "<style>p{color:red}</style><p>Hello &lt;Ada&gt;</p><p><a href='https://x.example'>Shop"
        "</a></p>",
        click,
        "https://crm.example.com/v1/t/o/open",
    )
    assert campaign_email.plain_text(html) == f"Hello <Ada>\n\nShop ({click(0)})\n"


class _Targets(HTMLParser):
    """Every link target of an HTML text, as a browser reads it (a check of its own)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [v for k, v in attrs if k in ("href", "src") and v is not None]


def script_targets(html: str) -> list[str]:
    read = (
        re.sub("[\t\n\r]", "", t).strip("".join(map(chr, range(33)))) for t in _Targets(html).found
    )
    return [t for t in read if t.lower().startswith(("javascript:", "data:", "vbscript:"))]


UNSAFE = [
    "javascript:alert(1)",
    " JAVASCRIPT:alert(1)",
    "java&#x09;script:alert(1)",
    "java&#10;script:alert(1)",
    "&#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "&#x01;javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "jAvAsCrIpT://%0aalert(1)",
]


@pytest.mark.parametrize("target", UNSAFE)
def test_a_link_target_that_could_run_a_script_is_removed_however_it_is_written(
    target: str,
) -> None:
    # Given a link, an image and a form whose targets could run a script
    html = (
        f'<p><a class="x" href="{target}">Site</a> <img src="{target}" alt="">'
        f'<form action="{target}"><button formaction="{target}">Go</button></form></p>'
    )
    # When the email is made, Then those attributes are gone and the rest is kept
    done = campaign_email.tracked(html, click, "https://crm.example.com/v1/t/o/open")
    assert done.startswith(
        '<p><a class="x">Site</a> <img alt=""><form><button>Go</button></form></p>'
    )
    assert script_targets(html) and script_targets(done) == []
    assert campaign_email.plain_text(done) == "Site Go\n"


def test_only_web_mail_phone_and_relative_targets_are_kept() -> None:
    html = (
        '<a href="https://a.example/x">a</a><a href="mailto:help@example.com">b</a>'
        '<a href="tel:+3312345">c</a><a href="#top">d</a><a href="/path?q=1:2">e</a>'
        '<img src="//cdn.example.com/i.png"><a href="javascript:void(0)">f</a>'
    )
    done = campaign_email.tracked(html, click, "https://crm.example.com/v1/t/o/open")
    assert done.startswith(
        f'<a href="{escape(click(0))}">a</a><a href="mailto:help@example.com">b</a>'
        '<a href="tel:+3312345">c</a><a href="#top">d</a><a href="/path?q=1:2">e</a>'
        '<img src="//cdn.example.com/i.png"><a>f</a>'
    )


@pytest.mark.parametrize(
    "site",
    [
        "javascript:alert(1)",
        " JAVASCRIPT:alert(1)",
        "java\tscript:alert(1)",
        "\njavascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
    ],
)
def test_a_customers_field_rendered_into_a_link_cannot_become_a_script(site: str) -> None:
    # Given a template linking to a customer's custom field, and a customer's script URL
    fields = customer_fields(name="Eve", email=None, custom_fields={"site": site})
    body = '<a href="{{ customer.custom_fields.site }}">Site</a><img src={{ customer.custom_fields.site }}>'
    _, html = render("s", body, fields)
    assert script_targets(html)  # what the template wrote
    # When their email is made, Then no link or image goes to a script
    done = campaign_email.tracked(html, click, "https://crm.example.com/v1/t/o/open")
    assert script_targets(done) == []
    assert done.startswith("<a>Site</a><img")


def test_event_handlers_documents_and_meta_refresh_are_removed_the_rest_kept() -> None:
    # Given a template placing a customer's field in an event handler, a frame's document
    # and a meta refresh, beside ordinary attributes
    fields = customer_fields(name="Eve", email=None, custom_fields={"x": "alert(1)"})
    body = (
        '<meta http-equiv="refresh" content="0;url=javascript:{{ customer.custom_fields.x }}">'
        '<p onclick="{{ customer.custom_fields.x }}" ONMOUSEOVER="x()" class="hi">Hi</p>'
        '<iframe srcdoc="&lt;script&gt;{{ customer.custom_fields.x }}&lt;/script&gt;"></iframe>'
    )
    _, html = render("s", body, fields)
    # When the email is made, Then only the attributes that could run a script are gone
    done = campaign_email.tracked(html, click, "https://crm.example.com/v1/t/o/open")
    assert done.startswith(
        '<meta content="0;url=javascript:alert(1)"><p class="hi">Hi</p><iframe></iframe>'
    )
