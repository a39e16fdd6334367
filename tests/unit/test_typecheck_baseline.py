"""The type check's baseline: entries without line numbers, new errors and fixed ones told."""

from collections import Counter

from tests.typecheck_baseline import compare, errors

OUTPUT = """\
domain/a.py:12: error: Returning Any from function declared to return "int"  [no-any-return]
domain/a.py:40: error: Returning Any from function declared to return "int"  [no-any-return]
domain/a.py:41: note: See https://mypy.readthedocs.io
api/b.py:7:5: error: Name "x" already defined on line 3  [no-redef]
Found 3 errors in 2 files (checked 2 source files)
"""
ANY = 'domain/a.py: Returning Any from function declared to return "int"  [no-any-return]'
REDEF = 'api/b.py: Name "x" already defined on line N  [no-redef]'


def test_errors_are_keyed_without_line_numbers_and_counted() -> None:
    found = errors(OUTPUT)

    assert sorted(found) == [REDEF, ANY]
    assert [line.split(":")[1] for line in found[ANY]] == ["12", "40"]


def test_the_errors_of_the_baseline_pass() -> None:
    assert compare(errors(OUTPUT), Counter({ANY: 2, REDEF: 1})) == []


def test_a_new_error_fails_with_its_lines() -> None:
    problems = compare(errors(OUTPUT), Counter({ANY: 1, REDEF: 1}))

    assert problems == [f"new: {line}" for line in OUTPUT.splitlines()[:2]]


def test_a_fixed_error_still_in_the_baseline_fails() -> None:
    problems = compare(errors(OUTPUT), Counter({ANY: 2, REDEF: 2}))

    assert problems == [f"fixed, still in the baseline: {REDEF}"]
