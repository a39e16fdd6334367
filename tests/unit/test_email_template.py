"""Campaign templates: sandboxed Jinja2, autoescaped HTML, lenient about missing fields."""

import pytest

from domain import email_template
from domain.email_template import RenderError, customer_fields, render
from domain.errors import InvalidValue

ADA = customer_fields(
    name="Ada <script>", email="ada@example.com", tags={"vip"}, custom_fields={"tier": "gold"}
)


def test_fields_render_and_the_html_body_is_autoescaped() -> None:
    subject, html = render(
        "Hi {{ customer.name }}",
        "<p>{{ customer.name }} ({{ customer.custom_fields.tier }})</p>",
        ADA,
    )
    assert subject == "Hi Ada <script>"
    assert html == "<p>Ada &lt;script&gt; (gold)</p>"


def test_missing_fields_render_empty_or_their_default() -> None:
    fields = customer_fields(name=None, email=None)
    _, html = render(
        "s",
        '{{ customer.custom_fields.tier }}|{{ customer.nick.x }}|{{ customer.name | default("friend", true) }}',
        fields,
    )
    assert html == "||friend"


def test_line_breaks_in_the_subject_are_collapsed() -> None:
    fields = customer_fields(name="Ada\r\nBcc: x@example.com", email=None)
    subject, _ = render("Hi  {{ customer.name }}", "", fields)
    assert subject == "Hi Ada Bcc: x@example.com"


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer.items.__globals__['os'].system('true') }}",
        "{{ customer.__class__.__init__.__globals__ }}x{{ cycler.__init__.__globals__.os.popen('id') }}",
    ],
)
def test_the_sandbox_refuses_unsafe_attribute_access(body: str) -> None:
    with pytest.raises(RenderError):
        render("s", body, ADA)


@pytest.mark.parametrize(
    ("body", "size"),
    [("{{ 100 // customer.custom_fields.size }}", 0), ("{% if customer.custom_fields.size > 3 %}{% endif %}", "big")],
)  # fmt: skip
def test_a_template_that_does_not_fit_a_customers_data_does_not_render(body, size) -> None:
    with pytest.raises(RenderError):
        render("s", body, ADA | {"custom_fields": {"size": size}})


def test_private_attributes_are_not_reachable_even_when_only_printed() -> None:
    _, html = render("s", "[{{ customer.__class__ }}]", ADA)
    assert html == "[]"


@pytest.mark.parametrize(
    ("field", "subject", "body"), [("subject", "{{ oops", "ok"), ("body_html", "ok", "{% for %}")]
)
def test_a_template_that_does_not_compile_is_refused_naming_its_field(
    field: str, subject: str, body: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        email_template.check(subject, body)
    assert refused.value.field == field
