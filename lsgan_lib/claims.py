"""Claim records and the claims table every chapter ends with.

A claim is stated in the paper's words, with the measurement that tests it, the measured value, the criterion fixed
before the run, and the verdict. ``verdict`` is ``True`` (reproduced), ``False`` (not reproduced) or ``None``
(inconclusive at this profile, e.g. too few seeds).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Claim:
    paper: str
    claim: str
    measurement: str
    value: str
    criterion: str
    verdict: bool | None

    @property
    def verdict_text(self) -> str:
        return {True: "reproduced", False: "not reproduced", None: "inconclusive"}[self.verdict]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(claims: list[Claim], profile: str, device: str) -> str:
    """The claims table as Markdown, with the profile and device the numbers come from."""
    rows = ["| claim | measurement | value | criterion (fixed before the run) | verdict |",
            "| --- | --- | --- | --- | --- |"]
    for c in claims:
        rows.append("| " + " | ".join(_cell(x) for x in
                                      (c.claim, c.measurement, c.value, c.criterion, f"**{c.verdict_text}**")) + " |")
    rows.append("")
    rows.append(f"Measured at the `{profile}` profile on {device}.")
    return "\n".join(rows)


def show_claims(claims: list[Claim], profile: str, device: str) -> None:
    """Display the claims table in a notebook, with the records as JSON metadata for the book's claims overview."""
    from IPython.display import Markdown, display

    display(Markdown(claims_markdown(claims, profile, device)),
            metadata={"lsgan_claims": json.loads(json.dumps([asdict(c) | {"verdict_text": c.verdict_text}
                                                              for c in claims])),
                      "lsgan_profile": profile, "lsgan_device": device})
