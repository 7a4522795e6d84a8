"""The library's source keeps the project's line length (120 characters; no linter is installed to enforce it)."""

from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "lsgan_lib"
MAX_LINE = 120


def test_every_line_of_the_library_fits_120_characters():
    long = [f"{path.relative_to(LIB.parent)}:{number} ({len(line)})"
            for path in sorted(LIB.rglob("*.py"))
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if len(line) > MAX_LINE]
    assert long == [], f"lines over {MAX_LINE} characters: {', '.join(long)}"
