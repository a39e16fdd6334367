"""What bounding campaign templates costs: rendering a normal template, and compiling hostile
ones (what the command writer does when a campaign is drafted).

1. Render: one customer's subject and body of a typical campaign email (fields, a default,
   a condition, a loop over tags, a formatted number, links), with the plain Jinja sandbox
   the sender used before and with `domain.email_template.render` (bounded), alternating
   rounds in one run. Prints the median microseconds per render of each.
2. Compile: `email_template.check` of hostile bodies grown to just under the token limit
   (and within body_html's maxLength), each compiled afresh; the slowest of three runs.

It prints; it asserts nothing. Run:  python -m bench.templates [--rounds 20] [--renders 500]
"""

import argparse
import statistics
import time
from collections.abc import Callable

from jinja2 import ChainableUndefined
from jinja2.sandbox import SandboxedEnvironment

from commands.campaigns import CreateCampaign
from domain import email_template
from domain.errors import InvalidValue
from domain.template_limits import BudgetExceeded
from domain.template_sandbox import refuse_many_tokens

SUBJECT = "{{ customer.name | default('Friend') }}, your {{ customer.custom_fields.tier }} offer"
BODY = (
    "<html><body><table style='width:100%;font-family:Arial'><tr><td>"
    "<h1 style='color:#333'>Hello {{ customer.name | default('friend') }},</h1>"
    "{% if customer.custom_fields.tier == 'gold' %}<p>As a gold member you save "
    "{{ '%.2f' | format(customer.custom_fields.discount) }}%.</p>{% else %}"
    "<p>Members save more.</p>{% endif %}"
    "<ul>{% for tag in customer.tags %}<li>{{ tag | title }}</li>{% endfor %}</ul>"
    "<p><a href='https://shop.example.com/spring?utm=mail&amp;c={{ customer.external_ref }}'>"
    "Shop now</a> or <a href='{{ customer.custom_fields.site }}'>your page</a></p>"
    "<p style='font-size:11px;color:#999'>" + "Small print. " * 40 + "</p>"
    "</td></tr></table></body></html>"
)
CUSTOMER = email_template.customer_fields(
    name="Ada Lovelace",
    email="ada@example.com",
    external_ref="A-1815",
    tags={"vip", "newsletter", "spring"},
    custom_fields={"tier": "gold", "discount": 12.5, "site": "https://ada.example.com"},
    consent={"email_marketing": True},
)
HOSTILE = {
    "outputs": ("", "{{a}}", ""),
    "comparisons": ("{{ a", " < a", " }}"),
    "~ chain": ("{{ a", " ~ a", " }}"),
    "if blocks": ("", "{% if a %}x{% endif %}", ""),
    "filters": ("", "{{ a|upper }}", ""),
    "elif chain": ("{% if a %}", "{% elif a %}", "{% endif %}"),
    "loops": ("", "{% for a in b %}{{ loop.index }}{% endfor %}", ""),
    "macros": ("", "{% macro m() %}x{% endmacro %}", ""),
    "list literal": ("{{ [", "1,", "1] }}"),
    "constants": ("", "{{ 2**2**2 }}", ""),
}


def plain_render() -> Callable[[], tuple[str, str]]:
    """How the sender rendered before: Jinja's sandbox, no bounds."""
    html = SandboxedEnvironment(autoescape=True, undefined=ChainableUndefined)
    text = SandboxedEnvironment(autoescape=False, undefined=ChainableUndefined)
    subject, body = text.from_string(SUBJECT), html.from_string(BODY)

    def render() -> tuple[str, str]:
        context = {"customer": CUSTOMER}
        return " ".join(subject.render(context).split()), body.render(context)

    return render


def bounded_render() -> tuple[str, str]:
    return email_template.render(SUBJECT, BODY, CUSTOMER)


def per_render_us(render: Callable[[], object], renders: int) -> float:
    started = time.perf_counter()
    for _ in range(renders):
        render()
    return (time.perf_counter() - started) / renders * 1e6


def bench_render(rounds: int, renders: int) -> None:
    plain = plain_render()
    assert plain() == bounded_render(), "the bounded render must write the same email"
    times: dict[str, list[float]] = {"plain sandbox": [], "bounded": []}
    for _ in range(rounds):
        times["plain sandbox"].append(per_render_us(plain, renders))
        times["bounded"].append(per_render_us(bounded_render, renders))
    for name, samples in times.items():
        print(f"render {name:14} median {statistics.median(samples):7.1f} µs "
              f"(min {min(samples):.1f}, max {max(samples):.1f})")  # fmt: skip


def hostile_body(head: str, unit: str, tail: str) -> str:
    """The longest repetition of `unit` within the token limit and body_html's maxLength."""
    longest = CreateCampaign.model_json_schema()["properties"]["body_html"]["maxLength"]
    low, high = 1, longest
    while low < high:
        middle = (low + high + 1) // 2
        source = head + unit * middle + tail
        try:
            refuse_many_tokens(email_template._HTML, source, email_template.MAX_TOKENS)  # noqa: SLF001
            fits = len(source) <= longest
        except BudgetExceeded:
            fits = False
        low, high = (middle, high) if fits else (low, middle - 1)
    return head + unit * low + tail


def bench_compile() -> None:
    for name, parts in HOSTILE.items():
        body, slowest, outcome = hostile_body(*parts), 0.0, "accepted"
        for _ in range(3):
            email_template._compiled.cache_clear()  # noqa: SLF001 - compile afresh
            started = time.perf_counter()
            try:
                email_template.check("s", body)
            except InvalidValue as refused:
                outcome = f"refused: {refused.detail}"
            slowest = max(slowest, time.perf_counter() - started)
        print(f"compile {name:13} {len(body):6} chars {slowest * 1000:7.1f} ms  {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--renders", type=int, default=500)
    args = parser.parse_args()
    bench_render(args.rounds, args.renders)
    bench_compile()


if __name__ == "__main__":
    main()
