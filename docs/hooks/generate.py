"""MkDocs hook: the pages that restate code are written from the code at each build.

A page holds a marker such as `<!-- generated: settings -->`; `on_page_markdown` replaces it
with Markdown made from the objects themselves (the settings model, the read models' table
schemas, the event catalogue, the refusal types), so these pages cannot go stale. An unknown
marker fails the build.
"""

import ast
import html
import importlib
import inspect
import itertools
import pkgutil
import re
from collections.abc import Callable
from enum import Enum
from types import ModuleType
from typing import Any, get_args

from mkdocs.exceptions import PluginError
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

import domain
import projections
from api.problems import STATUS_OF
from domain.churn import risk
from domain.errors import CrmError, InvalidValue
from domain.events.catalogue import CATALOGUE, EventEntry
from infra.settings import Settings
from projections.table_schema import TableSchema

MARKER = re.compile(r"<!-- generated: (\w+)((?: \S+)*) -->")


def settings_table() -> str:
    """Every setting of `infra.settings.Settings`: its variable, default and meaning."""
    prefix = Settings.model_config.get("env_prefix", "")
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        variable = f"`{prefix}{name.upper()}`"
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| {variable} | {_default(field)} | {meaning}{_bounds(field)} |")
    return "\n".join(rows)


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is PydanticUndefined or value is None:
        return "unset"
    return f"`{value}`"


def _bounds(field: FieldInfo) -> str:
    words = {"ge": "at least", "gt": "above", "le": "at most", "lt": "below"}
    found = [
        f"{word} {getattr(rule, name)}"
        for rule in field.metadata
        for name, word in words.items()
        if getattr(rule, name, None) is not None
    ]
    return f" ({', '.join(found)})" if found else ""


def table_section(name: str) -> str:
    """One read-model table: what its columns hold, its DDL and its indexes."""
    module = TABLES[name]
    schema: TableSchema = module.SCHEMA
    ddl = schema.ddl.strip().replace("{{", "{").replace("}}", "}").replace("{table}", name)
    indexes = [
        f"CREATE INDEX {name}_{suffix}_idx ON {name} {indexed};"
        for suffix, indexed in schema.indexes
    ]
    path = module.__name__.replace(".", "/") + ".py"
    notes = _docstring_after(module, "DDL")
    sql = "\n".join([ddl, *indexes])
    return f"{notes}\n\nFrom `{path}`:\n\n```sql\n{sql}\n```"


def _table_modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.walk_packages(projections.__path__, "projections."):
        module = importlib.import_module(info.name)
        if isinstance(getattr(module, "SCHEMA", None), TableSchema) and hasattr(module, "TABLE"):
            found[module.TABLE] = module
    return found


def _docstring_after(module: ModuleType, name: str) -> str:
    """The string literal that follows the assignment of `name` in the module's source."""
    body = ast.parse(inspect.getsource(module)).body
    for statement, following in itertools.pairwise(body):
        assigned = isinstance(statement, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in statement.targets
        )
        if assigned and isinstance(following, ast.Expr):
            value = following.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return inspect.cleandoc(value.value)
    return ""


def event_catalogue() -> str:
    """Every event type of `domain.events.catalogue.CATALOGUE`, by aggregate: what it records,
    its schema version, and each field of its `data` with its type and whether it is personal."""
    sections = []
    for aggregate, entries in itertools.groupby(CATALOGUE, key=lambda entry: entry.aggregate):
        events = "\n\n".join(_event_section(entry) for entry in entries)
        sections.append(f"## {aggregate.__name__}\n\n{events}")
    return "\n\n".join(sections)


def _event_section(entry: EventEntry) -> str:
    heading = f"### `{entry.name}`\n\n{entry.description} Schema version {entry.schema_version}."
    fields = entry.payload.model_fields
    if not fields:
        return f"{heading} No fields."
    rows = ["| field | type | personal data |", "| --- | --- | --- |"]
    rows += [
        f"| `{name}` | {_code(field.annotation)} | "
        f"{'yes' if name in entry.personal_fields else 'no'} |"
        for name, field in fields.items()
    ]
    return heading + "\n\n" + "\n".join(rows)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    text = re.sub(r"\b(?:[a-z_]+\.)+", "", str(annotation))
    return re.sub(r"<class '(\w+)'>", r"\1", text)


def _code(annotation: Any) -> str:
    """A type as inline code that a Markdown table cell can hold (its `|` as an entity)."""
    return f"<code>{html.escape(_type_name(annotation)).replace('|', '&#124;')}</code>"


def event_value_types() -> str:
    """The enumerations and nested models the payloads use: each enumeration's values, each
    model's fields."""
    found: dict[str, type] = {}
    for entry in CATALOGUE:
        for field in entry.payload.model_fields.values():
            _collect(field.annotation, found)
    return "\n\n".join(_value_type(kind) for _, kind in sorted(found.items()))


def _collect(annotation: Any, found: dict[str, type]) -> None:
    if isinstance(annotation, type) and annotation.__name__ not in found:
        if issubclass(annotation, Enum):
            found[annotation.__name__] = annotation
        elif issubclass(annotation, BaseModel):
            found[annotation.__name__] = annotation
            for field in annotation.model_fields.values():
                _collect(field.annotation, found)
    for argument in get_args(annotation):
        _collect(argument, found)


def _value_type(kind: type) -> str:
    if issubclass(kind, Enum):
        values = ", ".join(f"`{member.value}`" for member in kind)
        return f"`{kind.__name__}`\n:   one of {values}"
    assert issubclass(kind, BaseModel)
    fields = ", ".join(
        f"`{name}` ({_code(field.annotation)})" for name, field in kind.model_fields.items()
    )
    return f"`{kind.__name__}`\n:   an object: {fields}"


def churn_weights() -> str:
    """The churn risk's signals (`domain.churn.risk.WEIGHTS`): weight and when each fires, as
    the constant's docstring says, with the named constants' values; then the levels."""
    said = _docstring_after(risk, "WEIGHTS")
    said = re.sub(r"\b[A-Z][A-Z_]+\b", lambda m: _constant(risk, m.group()), said)
    when = dict(part.split(": ", 1) for part in " ".join(said.split()).rstrip(".").split("; "))
    rows = ["| signal | weight | fires when |", "| --- | --: | --- |"]
    rows += [
        f"| `{name}` | {weight} | {when.get(name, '')} |" for name, weight in risk.WEIGHTS.items()
    ]
    levels = ", ".join(f"`{name}` from {lowest}" for name, lowest in risk.LEVELS)
    return "\n".join(rows) + f"\n\nLevels, by risk: {levels}."


def _constant(module: ModuleType, name: str) -> str:
    """A named constant's value as a reader needs it (a `_DAYS` constant in days)."""
    value = getattr(module, name, None)
    if value is None:
        return name
    return f"{value} days" if name.endswith("_DAYS") else str(value)


def problem_types() -> str:
    """Every refusal a command can meet (`CrmError` subclasses): its problem type, status and
    meaning."""
    for info in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(info.name)  # every refusal the domain defines
    rows = ["| `type` | status | when |", "| --- | --- | --- |"]
    seen: set[str] = set()
    for error in _subclasses(CrmError):
        if error.rule in seen:
            continue
        seen.add(error.rule)
        status = 422 if issubclass(error, InvalidValue) else STATUS_OF.get(error, 409)
        meaning = " ".join((error.__doc__ or "").split())
        rows.append(f"| `/problems/{error.rule}` | {status} | {meaning} |")
    return "\n".join(rows)


def _subclasses(kind: type[CrmError]) -> list[type[CrmError]]:
    found: list[type[CrmError]] = []
    for sub in kind.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def access_policy() -> str:
    """Every route of the app (`api.app.create_app`'s route table) with its rule in
    `api.access_policy.POLICY`: the roles it admits, what each sees, and whether its answer
    carries personal data (then `no-store`, and whose reads are logged)."""
    from fastapi.routing import iter_route_contexts

    from api.access_policy import rule_for
    from api.app import create_app
    from infra.api_keys import Role

    app = create_app(None, None, Settings(_env_file=None))  # type: ignore[arg-type]
    roles = list(Role)
    rows = [
        f"| route | {' | '.join(r.value for r in roles)} | personal data |",
        "| --- |" + " --- |" * (len(roles) + 1),
    ]
    for context in iter_route_contexts(app.routes):
        for method in sorted(set(context.methods or ()) - {"HEAD"}):
            rule = rule_for(method, context.path)
            route = f"`{method} {context.path}`"
            if rule is None or rule.public:
                cells = ["no key needed" if rule else "**no rule: refused**"] * len(roles)
                rows.append(f"| {route} | {' | '.join(cells)} | no |")
                continue
            cells = [_seen(rule, r) for r in roles]
            personal = "no"
            if rule.subject is not None:
                personal = f"yes; logged: {rule.subject.description}"
            elif rule.carries_personal_data:
                personal = "yes"
            rows.append(f"| {route} | {' | '.join(cells)} | {personal} |")
    return "\n".join(rows)


def _seen(rule: Any, role: Any) -> str:
    """What `role` sees of a route under `rule` (and the parameters it may not use)."""
    view = rule.roles.get(role)
    if view is None:
        return "refused"
    refused = ", ".join(f"`{name}`" for name in sorted(rule.personal_parameters))
    return view.described() + (f"; not by {refused} (403)" if refused and not view.whole else "")


TABLES = _table_modules()
GENERATORS: dict[str, Callable[..., str]] = {
    "settings": settings_table,
    "table": table_section,
    "events": event_catalogue,
    "event_types": event_value_types,
    "problems": problem_types,
    "churn_weights": churn_weights,
    "access_policy": access_policy,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replaces each marker with what its generator writes; a page that shows one read-model
    table must show them all."""
    shown = {m.group(2).strip() for m in MARKER.finditer(markdown) if m.group(1) == "table"}
    if shown and shown != set(TABLES):
        raise PluginError(f"read-model tables missing from the page: {set(TABLES) - shown}")
    return MARKER.sub(lambda m: GENERATORS[m.group(1)](*m.group(2).split()), markdown)
