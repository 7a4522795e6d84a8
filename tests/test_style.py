"""The library's source, its tests and its benchmarks keep the project's line length (120 characters; no linter is
installed to enforce it)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("lsgan_lib", "tests", "bench")
MAX_LINE = 120


def test_every_line_of_the_library_tests_and_benchmarks_fits_120_characters():
    long = [f"{path.relative_to(ROOT)}:{number} ({len(line)})"
            for folder in CHECKED
            for path in sorted((ROOT / folder).rglob("*.py"))
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if len(line) > MAX_LINE]
    assert long == [], f"lines over {MAX_LINE} characters: {', '.join(long)}"
