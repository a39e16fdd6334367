"""The type check with a baseline that can only shrink: `make typecheck`.

Runs mypy (configured in pyproject.toml) and compares its errors, without line numbers,
with tests/typecheck_baseline.txt: the errors known when mypy was introduced and not fixed
yet. It fails on an error that is not in the baseline, and on a baseline entry that no
longer occurs (so that a fixed error cannot come back unnoticed). `--rewrite` (`make
typecheck-baseline`) writes the current errors as the new baseline: review its diff.
"""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "tests" / "typecheck_baseline.txt"
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+(?::\d+)?: error: (?P<message>.*)$")
LINE_NUMBER = re.compile(r"\bline \d+\b")


def errors(mypy_output: str) -> dict[str, list[str]]:
    """mypy's error lines by entry, `path: message  [code]` with line numbers left out."""
    found: dict[str, list[str]] = {}
    for line in mypy_output.splitlines():
        if match := ERROR.match(line):
            entry = f"{match['path']}: {LINE_NUMBER.sub('line N', match['message'])}"
            found.setdefault(entry, []).append(line)
    return found


def baseline() -> Counter[str]:
    """The baseline's entries, each as often as it is listed."""
    if not BASELINE.exists():
        return Counter()
    return Counter(line for line in BASELINE.read_text().splitlines() if line.strip())


def compare(current: dict[str, list[str]], known: Counter[str]) -> list[str]:
    """What is wrong: new errors (with their line numbers), then baseline entries that no
    longer occur."""
    counts = Counter({entry: len(lines) for entry, lines in current.items()})
    new, gone = counts - known, known - counts
    return [f"new: {line}" for entry in sorted(new) for line in current[entry]] + [
        f"fixed, still in the baseline: {entry}" for entry in sorted(gone.elements())
    ]


def run_mypy() -> str:
    """mypy's output over the files pyproject.toml names; exits if mypy itself failed."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 1):
        sys.exit(f"mypy failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def main(argv: list[str]) -> int:
    current = errors(run_mypy())
    entries = sorted(entry for entry, lines in current.items() for _ in lines)
    if argv == ["--rewrite"]:
        BASELINE.write_text("".join(f"{entry}\n" for entry in entries))
        print(f"{BASELINE.relative_to(ROOT)}: {len(entries)} entries")
        return 0
    if problems := compare(current, baseline()):
        print("mypy, against tests/typecheck_baseline.txt:", *problems, sep="\n")
        print("Fix new errors; once old ones are fixed, `make typecheck-baseline`.")
        return 1
    print(f"mypy: no errors beyond the baseline's {len(entries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
