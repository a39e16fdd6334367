"""Prints the shape of the product's code: function lengths and the longest functions.

    python bench/code_shape.py [ROOT] [--top N]

Counts every function and method in the product's packages (not tests or benchmarks), from
its `def` line to its last line, docstring included.
"""

import argparse
import ast
import statistics
from pathlib import Path

PACKAGES = ("domain", "commands", "projections", "api", "consumers", "infra")


def functions(root: Path) -> list[tuple[int, str]]:
    """(length in lines, "path:line name") of every function under the product's packages."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    where = f"{path.relative_to(root)}:{node.lineno} {node.name}"
                    found.append((length, where))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=".", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    found = functions(args.root)
    lengths = [length for length, _ in found]
    files = {where.split(":")[0] for _, where in found}
    print(f"functions: {len(found)} in {len(files)} files")
    print(
        f"median length: {statistics.median(lengths)} lines; over 40 lines: "
        f"{sum(length > 40 for length in lengths)}"
    )
    for length, where in sorted(found, reverse=True)[: args.top]:
        print(f"{length:5d}  {where}")


if __name__ == "__main__":
    main()
