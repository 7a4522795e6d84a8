"""Every ``lsgan-book run`` / ``lsgan-book sweep`` command shown in the project's documentation names parameters the
chapter has, with values it accepts: a reader who copies one must not get exit status 2."""
import re
import shlex
from pathlib import Path

import pytest

from lsgan_lib.book import cli, parameters as profile_params
from lsgan_lib.book import sweep

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md"))]
COMMAND = re.compile(r"^\s*(?:\S*/)?(lsgan-book (?:run|sweep)\b.*)")


def documented_commands() -> list[tuple[str, str]]:
    """``(where, command)`` for each command line inside a fenced code block, continuation lines joined."""
    found = []
    for path in DOCUMENTS:
        fenced, pending, start = False, "", 0
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                fenced, pending = not fenced, ""
                continue
            if not fenced:
                continue
            if not pending:
                start = number
            pending += line.rstrip().removesuffix("\\") + " "
            if line.rstrip().endswith("\\"):
                continue
            command, pending = pending, ""
            match = COMMAND.match(command)
            if match and "..." not in command:
                found.append((f"{path.relative_to(ROOT)}:{start}", match.group(1)))
    return found


COMMANDS = documented_commands()


def test_the_documentation_shows_commands_to_check():
    assert sum("sweep" in c for _, c in COMMANDS) >= 3 and sum(" run " in c for _, c in COMMANDS) >= 3


@pytest.mark.parametrize("where, command", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_a_documented_command_names_valid_parameters(where, command):
    argv = shlex.split(command, comments=True)[1:]
    args = cli.parser().parse_args(argv)
    profile = args.profile or profile_params.default_profile()  # what the command itself would use
    overrides = profile_params.parse_overrides(args.parameter or [])
    if argv[0] == "sweep":
        sweep.plan_points(ROOT, args.chapter, profile, overrides, sweep.parse_grids(args.grid or []))
    else:
        for chapter in args.chapters or profile_params.chapters(ROOT):
            profile_params.resolve_parameters(ROOT, chapter, profile, overrides)
