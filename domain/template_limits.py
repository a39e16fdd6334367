"""How large a template's values may grow, pure functions: the sizes an operation would
produce, estimated from its operands before it runs.

A value's `weight` is about the number of characters it takes written out. Every value a
bounded template makes weighs at most the limit (the render's output allowance): an
operation whose result would be heavier is refused before it allocates anything, so that
no single step of a template can take much time or memory. Integers are kept below
MAX_INT_BITS for the same reason (`2 ** (10**9)` would take minutes to compute).
"""

import re
from collections.abc import Callable, Iterable, Mapping, MappingView
from dataclasses import dataclass
from functools import lru_cache
from string import Formatter
from typing import Any, TypeGuard

from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace

MAX_INT_BITS = 16_384
"""Largest integer a template computes (about 4,900 digits; Python prints up to 4,300)."""
CONTAINERS = (list, tuple, set, frozenset, MappingView)
PERCENT_FIELD = re.compile(r"%(?:\([^()]*\))?[#0 +-]*(\d*)(?:\.(\d*))?[hlL]?[diouxXeEfFgGcrsab%]")
NUMBER = re.compile(r"\d+")
CACHED = 1_000
"""Formats up to this long are read once (they are the template's own constants)."""


@dataclass(frozen=True)
class Limits:
    """What rendering one customer's email may take: wall time, the characters it writes
    (each value it makes weighs at most as much), and loop iterations (macro calls count
    as iterations too)."""

    seconds: float = 1.0
    output_chars: int = 1_000_000
    loop_iterations: int = 100_000


DEFAULT_LIMITS = Limits()


class BudgetExceeded(SecurityError):
    """A template that would take more time, memory or iterations than a render may."""


def weight(value: Any, limit: int, indent: int = 0) -> int:
    """About how many characters `value` takes written out (each nested item indented by
    `indent` per level, as JSON does); counting stops once past `limit`."""
    if type(value) is str:
        return len(value)
    total, pending, depth = 0, [value], 0
    while pending and total <= limit:
        item = pending.pop()
        if item is _DEEPER:
            depth -= 1
        elif (children := _children(item)) is None:
            total += _scalar_weight(item)
        else:
            depth += 1
            total += 2 + len(children) * (2 + indent * depth)
            pending.append(_DEEPER)
            for child in children:  # inline the common scalars: much faster
                kind = type(child)
                if kind is str:
                    total += len(child)
                elif kind is int:
                    total += child.bit_length() // 3 + 1
                elif kind is float or kind is bool or child is None:
                    total += 1
                else:
                    pending.append(child)
    return total


def _scalar_weight(item: Any) -> int:
    if isinstance(item, str | bytes):
        return len(item)
    return item.bit_length() // 3 + 1 if isinstance(item, int) else 1


def _children(item: Any) -> Any:
    """What `item` holds (a mapping: its keys and values), or None for a scalar."""
    if type(item) is list or type(item) is tuple:
        return item
    if isinstance(item, str | bytes | int | float) or item is None:
        return None
    if isinstance(item, Namespace):
        item = object.__getattribute__(item, "_Namespace__attrs")
    if isinstance(item, Mapping):
        return [*item.keys(), *item.values()]
    return item if isinstance(item, CONTAINERS) else None


_DEEPER = object()
"""Marks where weight() leaves a container (its depth, for the indentation)."""


def refuse_over(size: int, limit: int, what: str) -> None:
    """BudgetExceeded if `size` is over `limit`."""
    if size > limit:
        raise BudgetExceeded(f"{what} would be over {limit:,} characters")


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int)


def is_sequence(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def check_binop(operator: str, left: Any, right: Any, limit: int) -> None:
    """Refuses an operation whose result would be too large (BudgetExceeded)."""
    if operator == "*":
        if is_int(left) and is_int(right):
            refuse_bits(left.bit_length() + right.bit_length())
        elif is_sequence(left) and is_int(right) or is_int(left) and is_sequence(right):
            times, sequence = (right, left) if is_int(right) else (left, right)
            refuse_over(weight(sequence, limit) * max(times, 0), limit, "a repetition")
    elif operator == "**":
        if is_int(left) and is_int(right) and right > 0 and abs(left) > 1:
            refuse_bits(left.bit_length() * right)
    elif operator == "+" and is_sequence(left) and is_sequence(right):
        refuse_over(weight(left, limit) + weight(right, limit), limit, "a concatenation")
    elif operator == "%" and isinstance(left, str | bytes):
        refuse_over(percent_size(left, right, limit), limit, "a formatted text")


def refuse_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise BudgetExceeded(f"a number would be over {MAX_INT_BITS:,} bits")


def percent_size(template: str | bytes, values: Any, limit: int) -> int:
    """The most characters `template % values` writes: each field at most its width, its
    precision and the heaviest value. `*` widths and fields Python reads differently
    than PERCENT_FIELD (a key with parentheses) are refused."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    widths, filled = (_percent_fields if len(text) <= CACHED else _percent_fields.__wrapped__)(text)
    if isinstance(values, Mapping):
        values = list(values.values())
    elif not isinstance(values, tuple):
        values = (values,)
    return len(text) + widths + (filled and filled * heaviest_of(values, limit))


@lru_cache(maxsize=256)
def _percent_fields(text: str) -> tuple[int, int]:
    """The widths and precisions of a %-format's fields, summed, and how many take a value."""
    if "%" in PERCENT_FIELD.sub("", text):
        raise BudgetExceeded("a format with `*` widths or nested keys is not allowed")
    fields = list(PERCENT_FIELD.finditer(text))
    widths = sum(int(m.group(1) or 0) + int(m.group(2) or 0) for m in fields)
    return widths, sum(m.group(0)[-1] != "%" for m in fields)


def format_size(template: str, values: Iterable[Any], limit: int) -> int:
    """The most characters `template.format(*values)` writes (as percent_size); a format
    spec with nested fields (`{:{width}}`) is refused."""
    text, fields = (_format_fields if len(template) <= CACHED else _format_fields.__wrapped__)(
        template
    )
    return text + (fields and fields * heaviest_of(values, limit))


@lru_cache(maxsize=256)
def _format_fields(template: str) -> tuple[int, int]:
    """The length of a format's text and its fields' widths, summed, and its fields."""
    total, fields = 0, 0
    for literal, field, spec, _ in Formatter().parse(template):
        total += len(literal)
        if field is not None:
            if "{" in (spec or ""):
                raise BudgetExceeded("a format spec with nested fields is not allowed")
            fields += 1
            total += sum(int(n) for n in NUMBER.findall(spec or ""))
    return total, fields


def heaviest_of(values: Iterable[Any], limit: int) -> int:
    return max((weight(v, limit) for v in values), default=0)


def bounded_list(values: Iterable[Any], limit: int, separator: int = 0) -> list[Any]:
    """The items of `values`, refused once their weight (and a separator between each)
    is over the limit: what a lazy sequence would make, counted as it is made."""
    items, total = [], 0
    for item in values:
        total += weight(item, limit) + separator
        refuse_over(total, limit, "a sequence")
        items.append(item)
    return items


def replaced_size(limit: int, text: Any, old: Any = "", new: Any = "", count: Any = -1) -> int:
    """The length of `text.replace(old, new, count)` (texts compared as written out)."""
    text, old, new = (v if isinstance(v, str | bytes) else str(v) for v in (text, old, new))
    if type(old) is not type(text):
        return len(text)
    found = text.count(old) if old else len(text) + 1
    if is_int(count) and count >= 0:
        found = min(found, count)
    return len(text) + found * len(new)


def padded_size(limit: int, text: Any, width: Any = 0, *_: Any) -> int:
    """The length of `text.center(width)` (ljust, rjust, zfill, the center filter)."""
    return max(weight(text, limit), width if is_int(width) else 0)


def tabbed_size(limit: int, text: Any, tabsize: Any = 8) -> int:
    """The length of `text.expandtabs(tabsize)`, at most."""
    tabs: int = text.count("\t" if isinstance(text, str) else b"\t")
    return len(text) + tabs * (tabsize if is_int(tabsize) else 0)


def translated_size(limit: int, text: Any, table: Any) -> int:
    """The length of `text.translate(table)`, at most: each character its longest
    replacement."""
    longest = 1
    if isinstance(table, Mapping):
        longest = max([1, *(len(v) for v in table.values() if isinstance(v, str | bytes))])
    return len(text) * longest


def bytes_size(limit: int, number: Any, length: Any = 1, *_: Any, **__: Any) -> int:
    """The length of `number.to_bytes(length)`."""
    return length if is_int(length) else 0


METHODS: dict[str, Callable[..., int]] = {
    "center": padded_size,
    "ljust": padded_size,
    "rjust": padded_size,
    "zfill": padded_size,
    "expandtabs": tabbed_size,
    "replace": replaced_size,
    "translate": translated_size,
    "to_bytes": bytes_size,
}
"""Estimates of the str, bytes and int methods whose result can be much longer than
their object; `join` and `format` are checked where they are called."""


def indented_size(limit: int, text: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    """The length of `text|indent(width)`, at most."""
    unit = len(width) if isinstance(width, str) else width if is_int(width) else 0
    lines = text.count("\n") + 2 if isinstance(text, str) else 2
    return weight(text, limit) + max(unit, 0) * lines


def wrapped_size(
    limit: int, text: Any, width: Any = 79, _: Any = True, wrapstring: Any = None, *__: Any
) -> int:
    """The length of `text|wordwrap(width, wrapstring=...)`, at most: a line and the
    next hold more than `width` characters."""
    length = weight(text, limit)
    lines = 2 * length // max(width, 1) + 1 if is_int(width) else length
    return length + lines * (len(wrapstring) if isinstance(wrapstring, str) else 1)


def batched_size(limit: int, _: Any, count: Any = 0, fill_with: Any = None) -> int:
    """The fill `batch` adds to its last batch: `count` copies of `fill_with` at most."""
    if fill_with is None or not is_int(count):
        return 0
    return count * (weight(fill_with, limit) + 2)


def sliced_size(limit: int, _: Any, count: Any = 0, fill_with: Any = None) -> int:
    """What `slice` adds: `count` lists, each with a `fill_with` at most."""
    return max(count, 0) * (weight(fill_with, limit) + 4) if is_int(count) else 0


def linked_size(
    limit: int, text: Any, trim: Any = None, nofollow: Any = False, target: Any = None,
    rel: Any = None, *_: Any, **__: Any,
) -> int:  # fmt: skip
    """The length of `text|urlize(...)`, at most: every word a link with its attributes."""
    words = len(text.split()) if isinstance(text, str) else 1
    extra = weight(target or "", limit) + weight(rel or "", limit)
    return 3 * weight(text, limit) + words * (60 + extra)


def json_size(limit: int, value: Any, indent: Any = None) -> int:
    """The length of `value|tojson(indent)` before escaping, at most."""
    unit = len(indent) if isinstance(indent, str) else indent if is_int(indent) else 0
    return weight(value, limit, max(unit, 0) + 1)


def summed_size(limit: int, _: Any, attribute: Any = None, start: Any = 0) -> int:
    """`sum` adds numbers only (lists added one by one take quadratic time)."""
    if not isinstance(start, int | float):
        raise BudgetExceeded("sum adds numbers only")
    return 0


def formatted_size(limit: int, template: Any, *args: Any, **kwargs: Any) -> int:
    """The length of `template|format(...)`, at most (as percent_size)."""
    return percent_size(str(template), kwargs or args, limit)


def replace_filter_size(
    limit: int, text: Any, old: Any = "", new: Any = "", count: Any = None
) -> int:
    return replaced_size(limit, text, old, new, -1 if count is None else count)


FILTERS: dict[str, Callable[..., int]] = {
    "center": padded_size,
    "indent": indented_size,
    "wordwrap": wrapped_size,
    "batch": batched_size,
    "slice": sliced_size,
    "urlize": linked_size,
    "tojson": json_size,
    "sum": summed_size,
    "format": formatted_size,
    "replace": replace_filter_size,
}
"""Estimates of the filters whose result can be much heavier than their value, from
their arguments (after the context, environment or eval context some take)."""
