"""Campaign templates: sandboxed Jinja2, autoescaped HTML, lenient about missing fields,
bounded in what they may cost."""

import time
from collections.abc import Callable

import pytest

from domain import email_template
from domain.email_template import RenderError, customer_fields, render
from domain.errors import InvalidValue
from domain.template_limits import Limits

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


# Templates are written by users: compiling one computes nothing, rendering one is bounded.

FAST = Limits(seconds=0.3, output_chars=100_000, loop_iterations=1_000)
"""A small budget, so that each test over it ends quickly."""


def within(seconds: float, work: Callable[[], object]) -> None:
    started = time.monotonic()
    work()
    assert time.monotonic() - started < seconds


@pytest.mark.parametrize(
    ("subject", "body", "field"),
    [
        ("s", "{{ (2**64)**(2**22) }}", "body_html"),
        ("s", "{{ ('x' * 10**7) * 10 }}", "body_html"),
        ("s", "<p>{{ 2 ** 100000 + 1 }}</p>", "body_html"),
        ("s", "{{ '%999999999s' % 1 }}", "body_html"),
        ("{{ 'x' * 10**9 }}", "ok", "subject"),
    ],
)
def test_arithmetic_on_constants_too_large_is_refused_when_drafted_without_computing_it(
    subject: str, body: str, field: str
) -> None:
    # Given a template whose constants alone make a value over the limits
    # When it is checked (as drafting a campaign does), Then it is refused at once
    with pytest.raises(InvalidValue) as refused:
        within(0.5, lambda: email_template.check(subject, body))
    assert refused.value.field == field
    assert "too costly" in refused.value.detail


@pytest.mark.parametrize(
    "body",
    [
        "{% for a in b %}" * 21 + "{{ loop.index }}" + "{% endfor %}" * 21,  # Python: too nested
        "{{ 1" + "+1" * 300 + " }}",  # Python: too many nested parentheses
        "{{ 1" + "0" * 5000 + " }}",  # an integer Python will not read
        "{% filter upper %}" * 600 + "x" + "{% endfilter %}" * 600,  # recursion
        "{{ [1,2]|pprint }}",  # not offered: its cost is not bounded
    ],
)
def test_a_template_that_fails_to_compile_in_any_way_is_refused_naming_its_field(body) -> None:
    with pytest.raises(InvalidValue) as refused:
        email_template.check("s", body)
    assert refused.value.field == "body_html"


def test_a_template_with_too_many_tokens_is_refused_before_it_is_compiled() -> None:
    body = "{{a}}" * (email_template.MAX_TOKENS // 3 + 1)
    with pytest.raises(InvalidValue) as refused:
        within(0.5, lambda: email_template.check("s", body))
    assert refused.value.field == "body_html"
    assert f"more than {email_template.MAX_TOKENS:,} tokens" in refused.value.detail


@pytest.mark.parametrize(
    "body",
    [
        "{{ 'x' * 999999 * 2 }}",
        "{{ 2 ** customer.custom_fields.n }}",
        "{{ 'x'|center(10**9) }}",
        "{{ 'x'.ljust(10**9) }}{{ 'x'.rjust(10**9) }}",
        "{{ 'x'.zfill(10**9) }}",
        "{{ 'x\t'.expandtabs(10**9) }}",
        "{{ '{:999999999}'.format(1) }}",
        "{{ '{:{w}}'.format(1, w=10**9) }}",
        "{{ '%*s' % (10**9, 1) }}",
        "{{ '%999999999d'|format(1) }}",
        "{{ 'a'|indent(10**9) }}",
        "{{ ('a' * 1000)|replace('a', 'b' * 1000) }}",
        "{{ ('a' * 1000).replace('a', 'b' * 1000) }}",
        "{{ range(10)|batch(10**9, 'x')|list }}",
        "{{ range(10)|slice(10**9)|list }}",
        "{{ ('x ' * 1000)|wordwrap(1, wrapstring='y' * 1000) }}",
        "{{ [[[1]]]|tojson(indent=10**8) }}",
        "{{ (1).to_bytes(10**9, 'big') }}",
        "{{ 'ab'.translate({97: 'x' * 1000000}) }}",
        "{{ ','.join(['x' * 1000000] * 100) }}",
        "{{ [[1]] * 1000|sum(start=[]) }}",
        "{{ range(100000)|map('string')|map('center', 100000)|list|length }}",
        "{% set b = 'x' * 1000000 %}{{ [b, b] }}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s]|join %}{% endfor %}",
        "{% set ns = namespace(i=3) %}{% for x in range(40) %}{% set ns.i = ns.i * ns.i %}{% endfor %}",
    ],
)  # fmt: skip
def test_an_operation_making_a_value_over_the_limit_fails_to_render_before_making_it(
    body: str,
) -> None:
    customer = ADA | {"custom_fields": {"n": 10**9}}
    with pytest.raises(RenderError, match="BudgetExceeded"):
        within(1.5, lambda: render("s", body, customer))


def test_nested_loops_stop_at_the_iterations_allowed() -> None:
    body = (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% for k in range(100000) %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    with pytest.raises(RenderError, match="over 1,000 loop iterations"):
        within(0.5, lambda: render("s", body, ADA, FAST))


def test_a_template_looping_on_one_customers_data_fails_for_that_customer_only() -> None:
    body = (
        "{% for i in range(customer.custom_fields.n) %}{% for j in range(customer.custom_fields.n)"
        " %}.{% endfor %}{% endfor %}"
    )
    small, huge = (ADA | {"custom_fields": {"n": n}} for n in (3, 100_000))
    assert render("s", body, small, FAST)[1] == "." * 9
    with pytest.raises(RenderError, match="loop iterations"):
        render("s", body, huge, FAST)
    # And each render has a budget of its own
    for _ in range(5):
        assert render("s", body, ADA | {"custom_fields": {"n": 30}}, FAST)[1] == "." * 900


def test_work_without_loops_stops_when_the_time_is_up() -> None:
    # Given macros calling each other 2**40 times (each call also counts as an iteration)
    body = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    )
    limits = Limits(seconds=0.2, output_chars=100_000, loop_iterations=10**9)
    with pytest.raises(RenderError, match="rendering took over 0.2 s"):
        within(1.0, lambda: render("s", body, ADA, limits))


@pytest.mark.parametrize(
    "body",
    [
        "{% set b = 'x' * 60000 %}{{ b }}{{ b }}",
        "{% for i in range(200) %}" + "x" * 1000 + "{% endfor %}",
        "{% macro m() %}{% for i in range(200) %}" + "y" * 1000 + "{% endfor %}{% endmacro %}"
        "{% set x = m() %}",
    ],
)
def test_what_a_template_writes_is_counted_even_before_it_is_output(body: str) -> None:
    with pytest.raises(RenderError, match="output over 100,000 characters"):
        render("s", body, ADA, FAST)


def test_macros_recursing_forever_fail_to_render() -> None:
    with pytest.raises(RenderError, match="RecursionError"):
        render("s", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", ADA)


def test_the_sandbox_refuses_changing_the_customers_data_and_offers_no_lipsum() -> None:
    with pytest.raises(RenderError, match="unsafe"):
        render("s", "{{ customer.tags.append('x') }}", ADA)
    with pytest.raises(RenderError, match="lipsum"):
        render("s", "{{ lipsum(10**6) }}", ADA)


def test_normal_templates_render_as_before_within_the_budget() -> None:
    # Given a template using loops, filters, formats and macros
    body = (
        "{% macro li(t) %}<li>{{ t|title }}</li>{% endmacro %}"
        "<ul>{% for t in customer.tags %}{{ li(t) }}{% endfor %}</ul>"
        "{{ '%.2f' % 3.14159 }} {{ '{:>4}'.format('x') }} {{ 'ab'|center(6) }}|"
        "{{ range(3)|map('string')|join(',') }} {{ customer.custom_fields|tojson }} "
        "{{ [1, 2][0:1] }} {{ 1 < 2 < 3 }} {{ 'a' ~ 'b' }}"
    )
    # When it is rendered within a small budget, Then it writes what Jinja writes
    _, html = render("s", body, ADA, FAST)
    assert html == ('<ul><li>Vip</li></ul>3.14    x   ab  |0,1,2 {"tier": "gold"} [1] True ab')
