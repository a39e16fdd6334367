"""A customer's copy of a campaign email: tracked links, the pixel, the plain-text part."""

from consumers import campaign_email

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
