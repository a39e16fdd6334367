"""MkDocs hook: the pages that restate code are written from the code at each build.

A page holds a marker such as `<!-- generated: settings -->`; `on_page_markdown` replaces it
with Markdown made from the objects themselves (the settings model, the read models' table
schemas, the event catalogue), so these pages cannot go stale. An unknown marker fails the
build.
"""

import ast
import importlib
import inspect
import itertools
import pkgutil
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any, get_args

from mkdocs.exceptions import PluginError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

import projections
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
        f"| `{name}` | `{_type_name(field.annotation)}` | "
        f"{'yes' if name in entry.personal_fields else 'no'} |"
        for name, field in fields.items()
    ]
    return heading + "\n\n" + "\n".join(rows)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    text = re.sub(r"\b(?:[a-z_]+\.)+", "", str(annotation))
    return re.sub(r"<class '(\w+)'>", r"\1", text).replace("|", "\\|")


TABLES = _table_modules()
GENERATORS: dict[str, Callable[..., str]] = {
    "settings": settings_table,
    "table": table_section,
    "events": event_catalogue,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replaces each marker with what its generator writes; a page that shows one read-model
    table must show them all."""
    shown = {m.group(2).strip() for m in MARKER.finditer(markdown) if m.group(1) == "table"}
    if shown and shown != set(TABLES):
        raise PluginError(f"read-model tables missing from the page: {set(TABLES) - shown}")
    return MARKER.sub(lambda m: GENERATORS[m.group(1)](*m.group(2).split()), markdown)
