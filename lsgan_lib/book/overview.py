"""The claims overview: every chapter's claims table collected into ``book/claims.md`` and the totals on the
introduction page."""


from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..measure.claims import KINDS, SIGNS, VERDICTS
from .parameters import chapters


def claims_label(chapter: str) -> str:
    """The MyST label every chapter puts before its claims section: ``(<chapter-with-dashes>-claims)=``."""
    return f"{chapter.replace('_', '-')}-claims"


def chapter_claims(notebook_path: Path) -> list[dict[str, Any]]:
    """The claim records a chapter displayed with :func:`lsgan_lib.measure.claims.show_claims`, with profile and device."""
    notebook = json.loads(Path(notebook_path).read_text())
    records = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            metadata = output.get("metadata", {})
            for claim in metadata.get("lsgan_claims", []):
                if claim.get("kind") not in KINDS or claim.get("verdict") not in VERDICTS or "gates" not in claim:
                    raise OutdatedClaims(
                        f"{notebook_path}: its claims table predates the four verdicts and training gates (a record "
                        f"without a kind, gates or one of {', '.join(VERDICTS)}). Fix: re-execute the chapter with "
                        f"`lsgan-book run {Path(notebook_path).stem}`.")
                records.append(claim | {"profile": metadata.get("lsgan_profile", "?"),
                                        "device": metadata.get("lsgan_device", "?")})
    return records


class OutdatedClaims(ValueError):
    """An executed chapter whose claim records lack the fields of :class:`lsgan_lib.measure.claims.Claim`."""


def claims_overview(root: Path, chapter_dir: Path) -> str:
    """The claims overview page, as MyST Markdown: the four verdicts counted apart (in all and per kind of claim),
    every gate that failed, then each chapter's claims grouped by kind, verdict first."""
    from ..measure.claims import verdict_badge

    lines = ["# Claims overview", "",
             "Every claim this book measures, collected from the executed chapters by `lsgan-book build`. A claim is "
             "*reproduced*, *not reproduced*, *inconclusive* (trained models, but the seeds' interval straddles the "
             "criterion or the seeds disagree) or *not tested* (a training gate failed — the models it compares did "
             "not learn at this profile — or the profile drops that part). A claim is *not reproduced* only when its "
             "gates pass. Each claim has a kind: *empirical* (depends on trained models), *numerical check* (a "
             "formula against an independent computation) or *by construction* (true by the definitions used: shown, "
             "not counted as evidence). Each verdict holds for the profile and device it names; the chapter's claims "
             "section gives the measurement, the criterion fixed before the run and the gates.", ""]
    by_chapter = {}
    for chapter in chapters(root):
        executed = chapter_dir / f"{chapter}.ipynb"
        if executed.is_file():
            by_chapter[chapter] = chapter_claims(executed)
    everything = [c for records in by_chapter.values() for c in records]
    if not everything:
        lines.append("No chapter has been executed yet: run `lsgan-book run`.")
        return "\n".join(lines) + "\n"

    def count(records) -> list[str]:
        return [str(sum(c["verdict"] == v for c in records)) for v in VERDICTS]

    lines += [f"**{len(everything)} claims**: " + ", ".join(f"{n} {v}" for v, n in zip(VERDICTS, count(everything)))
              + ".", "",
              "| | " + " | ".join(VERDICTS) + " |", "| --- |" + " ---: |" * len(VERDICTS)]
    for kind in KINDS:
        lines.append(f"| {kind} | " + " | ".join(count([c for c in everything if c["kind"] == kind])) + " |")
    for chapter, records in by_chapter.items():
        lines.append(f"| {{ref}}`{chapter} <{claims_label(chapter)}>` | " + " | ".join(count(records)) + " |")
    failed = [(chapter, g) for chapter, records in by_chapter.items()
              for g in {g["name"]: g for c in records for g in c["gates"]}.values() if not g["passed"]]
    lines += ["", "## Gates that failed", ""]
    if failed:
        lines += ["| chapter | gate | measured | threshold |", "| --- | --- | --- | --- |"]
        for chapter, g in failed:
            lines.append("| " + " | ".join(md_cell(x) for x in (chapter, g["name"] + " — " + g["measurement"],
                                                                  f"{g['value']:.3g}", f"{SIGNS[g['direction']]} {g['threshold']:g}"))
                         + " |")
    else:
        lines.append("None: every gate of every executed chapter passed.")
    for chapter, records in by_chapter.items():
        settings = sorted({f"`{c['profile']}` profile on {c['device']}" for c in records})
        lines += ["", f"## {chapter}", "", f"The chapter's claims section: {{ref}}`{chapter} <{claims_label(chapter)}>`. "
                  "Measured at the " + "; ".join(settings) + "."]
        for kind in KINDS:
            rows = [c for c in records if c["kind"] == kind]
            if not rows:
                continue
            lines += ["", f"**{kind}**", "", "| verdict | paper | claim | measured |", "| --- | --- | --- | --- |"]
            for c in rows:
                verdict = verdict_badge(c["verdict"]) + (f" {c['reason']}" if c["reason"] else "")
                lines.append("| " + " | ".join(md_cell(x) for x in (verdict, c["paper"], c["claim"],
                                                                      f"{c['measurement']}: **{c['value']}**")) + " |")
    return "\n".join(lines) + "\n"


TOTALS_START, TOTALS_END = "<!-- claims-totals:start -->", "<!-- claims-totals:end -->"


def claims_totals(root: Path, chapter_dir: Path) -> str:
    """One sentence for the intro page: the four verdicts counted over every executed chapter, empirical apart."""
    records = [c for chapter in chapters(root) if (chapter_dir / f"{chapter}.ipynb").is_file()
               for c in chapter_claims(chapter_dir / f"{chapter}.ipynb")]
    if not records:
        return "No chapter has been executed yet."

    def counted(rows) -> str:
        return ", ".join(f"{sum(c['verdict'] == v for c in rows)} {v}" for v in VERDICTS)

    empirical = [c for c in records if c["kind"] == "empirical"]
    return (f"**In all, the executed chapters test {len(records)} claims: {counted(records)}.** Of the "
            f"{len(empirical)} empirical claims: {counted(empirical)}.")


def with_totals(intro: str, totals: str) -> str:
    """The intro page's text with the totals placed between its two marker comments (which must both be there)."""
    if TOTALS_START not in intro or TOTALS_END not in intro:
        raise ValueError(f"book/intro.md lacks the markers {TOTALS_START} and {TOTALS_END} that `lsgan-book build` "
                         f"writes the claims totals between. Fix: put both on lines of their own in book/intro.md.")
    head, rest = intro.split(TOTALS_START, 1)
    return head + TOTALS_START + "\n" + totals + "\n" + TOTALS_END + rest.split(TOTALS_END, 1)[1]


def md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def executed_chapter_problems(root: Path, chapter_dir: Path) -> list[str]:
    """Why the executed chapters in ``chapter_dir`` cannot be published, one line per chapter: missing, not a
    readable notebook, or holding an error output (naming the cell, counting from 0 as in the executed copy)."""
    problems = []
    for chapter in chapters(root):
        path = chapter_dir / f"{chapter}.ipynb"
        if not path.is_file():
            problems.append(f"{path} is missing. Fix: `lsgan-book run {chapter}`")
            continue
        try:
            notebook = json.loads(path.read_text())
            cells = notebook["cells"]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            where = f" at line {error.lineno}" if isinstance(error, json.JSONDecodeError) else ""
            problems.append(f"{path} is not a readable notebook ({type(error).__name__}{where}: truncated or edited). "
                            f"Fix: `git checkout {path.relative_to(root) if path.is_relative_to(root) else path}` or "
                            f"`lsgan-book run {chapter}`")
            continue
        for index, cell in enumerate(cells):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                problems.append(f"{path}: cell {index} has an error output ({errors[0].get('ename')}: "
                                f"{errors[0].get('evalue')}). Fix: `lsgan-book run {chapter}`")
                break
    return problems
