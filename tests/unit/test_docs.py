"""The documentation stands on the code: what the code cites exists, and the generated pages
cover everything they document."""

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CODE = ("domain", "commands", "projections", "api", "consumers", "infra", "tests", "bench")
CITED = re.compile(r"\bdocs/[\w/.-]+\.md\b")
NAMED = re.compile(rf"`((?:{'|'.join(CODE)}|docs)/[\w/.*<>-]+\.(?:py|md))`")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "docs/hooks/generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cited() -> set[str]:
    files = [p for folder in CODE for p in (ROOT / folder).rglob("*.py")]
    files += [ROOT / name for name in ("docker-compose.yml", "Makefile", "Dockerfile", "README.md")]
    return {cited for f in files if f.exists() for cited in CITED.findall(f.read_text())}


def test_every_document_the_code_cites_exists() -> None:
    cited = _cited()
    assert "docs/kafka.md" in cited  # the relay and the envelope point to the contract
    assert [c for c in sorted(cited) if not (ROOT / c).is_file()] == []


def test_every_file_the_docs_name_exists() -> None:
    named = {
        path
        for page in (ROOT / "docs").rglob("*.md")
        for path in NAMED.findall(page.read_text())
        if "*" not in path and "<" not in path
    }
    assert "commands/group_commit.py" in named  # one purchase's path names its files
    assert [path for path in sorted(named) if not (ROOT / path).exists()] == []


def test_every_setting_is_documented() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []
    page = _generator().settings_table()
    assert all(f"`CRM_{name.upper()}`" in page for name in Settings.model_fields)


def test_the_sql_reference_shows_every_read_model_table() -> None:
    generate = _generator()
    page = (ROOT / "docs/read-models.md").read_text()
    shown = set(re.findall(r"<!-- generated: table (\w+) -->", page))
    assert shown == set(generate.TABLES)
    assert "CREATE TABLE IF NOT EXISTS purchases" in generate.table_section("purchases")


def test_the_event_catalogue_page_lists_every_event_type() -> None:
    generate = _generator()
    page = generate.event_catalogue()
    assert all(f"### `{entry.name}`" in page for entry in generate.CATALOGUE)


def test_every_refusal_has_a_problem_type_on_the_api_page() -> None:
    generate = _generator()
    table = generate.problem_types()
    rules = {error.rule for error in generate._subclasses(generate.CrmError)}
    assert rules and all(f"`/problems/{rule}`" in table for rule in rules)
