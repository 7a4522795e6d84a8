"""The claims overview: every chapter's claims table collected into ``book/claims.md`` and the totals on the
introduction page."""


from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..measure.claims import KINDS, PAPER_KINDS, QUORUM, SIGNS, VERDICTS
from .parameters import chapters


def claims_label(chapter: str) -> str:
    """The MyST label every chapter puts before its claims section: ``(<chapter-with-dashes>-claims)=``."""
    return f"{chapter.replace('_', '-')}-claims"


def chapter_claims(notebook_path: Path) -> list[dict[str, Any]]:
    """The claim records a chapter displayed with :func:`lsgan_lib.measure.claims.show_claims`, with profile and
    device."""
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


def predates_quorum(records: list[dict[str, Any]]) -> bool:
    """Whether a chapter's claim records come from before the quorum rules: gates judged on the worst seed (a gate
    record without per-seed ``values``) or claims without the paper's quoted sentence (no ``quote`` field)."""
    return any("quote" not in c or any("values" not in g for g in c["gates"]) for c in records)


def _seed_values(g: dict[str, Any]) -> str:
    """A gate record's per-seed values, or — for a record from before the quorum rules — its worst seed."""
    if "values" in g:
        return ", ".join("not computable" if not isinstance(v, (int, float)) or v != v else f"{v:.3g}"
                         for v in g["values"])
    return f"worst seed {g['value']:.3g}"


def _short_reason(c: dict[str, Any], labels: dict[str, str]) -> str:
    """Why a claim is not tested, compactly: the profile's reason, or the labels of its failed gates in the overview's
    table of failed gates (``labels``: gate name → label); empty otherwise."""
    parts = [c["not_tested"]] if c.get("not_tested") else []
    failed = sorted({labels[g["name"]] for g in c["gates"] if not g["passed"]}, key=lambda label: int(label[1:]))
    if failed:
        parts.append(f"gate{'s' if len(failed) > 1 else ''} {', '.join(failed)} failed")
    elif c["verdict"] == "not tested" and not parts:
        parts.append(c["reason"])
    return "; ".join(parts)


def claims_overview(root: Path, chapter_dir: Path) -> str:
    """The claims overview page, as MyST Markdown: the four verdicts counted over the claims about the papers (in all,
    per kind and per chapter), extensions apart; each failed gate once per chapter with its seeds' values (its
    measurement and independence sentence in a footnote); then each chapter's claims, verdict first."""
    from ..measure.claims import verdict_badge

    lines = ["# Claims overview", "",
             "Every claim this book measures, collected from the executed chapters by `lsgan-book build`. A claim is "
             "*reproduced*, *not reproduced*, *inconclusive* (the seeds' interval straddles the criterion or the "
             "seeds disagree) or *not tested* (a training gate failed, or the profile drops that part). A gate "
             "certifies that the models trained, never the claim's outcome, and passes when at least "
             f"{QUORUM:.0%} of its seeds pass; a claim is measured over the seeds that pass. Kinds: *empirical* "
             "(trained models), *numerical check* (a formula against an independent computation), *by construction* "
             "(true by the definitions used: not evidence), and *extension* (our reading, stricter than the paper's "
             "sentence: counted apart, not evidence about the paper). Each chapter's claims section gives the "
             "measurement, the criterion fixed before the run, the paper's sentence and the gates.", ""]
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

    paper = [c for c in everything if c["kind"] in PAPER_KINDS]
    extensions = [c for c in everything if c["kind"] not in PAPER_KINDS]
    lines += [f"**{len(paper)} claims about the papers**: "
              + ", ".join(f"{n} {v}" for v, n in zip(VERDICTS, count(paper))) + "."
              + (f" {len(extensions)} extensions, counted apart: "
                 + ", ".join(f"{n} {v}" for v, n in zip(VERDICTS, count(extensions))) + "." if extensions else ""),
              "", "| | " + " | ".join(VERDICTS) + " |", "| --- |" + " ---: |" * len(VERDICTS)]
    for kind in KINDS:
        rows = [c for c in everything if c["kind"] == kind]
        if rows or kind in PAPER_KINDS:
            label = kind if kind in PAPER_KINDS else f"{kind} (not counted)"
            lines.append(f"| {label} | " + " | ".join(count(rows)) + " |")
    for chapter, records in by_chapter.items():
        lines.append(f"| {{ref}}`{chapter} <{claims_label(chapter)}>` | "
                     + " | ".join(count([c for c in records if c["kind"] in PAPER_KINDS])) + " |")
    old = [chapter for chapter, records in by_chapter.items() if predates_quorum(records)]
    if old:
        lines += ["", "Executed before the quorum rules: " + ", ".join(old) + ". Their gates were judged on the "
                  "worst seed (shown as such below) and their rows do not yet quote the paper's sentence; they "
                  "follow the rules when re-executed."]
    failed = [(chapter, g) for chapter, records in by_chapter.items()
              for g in {g["name"]: g for c in records for g in c["gates"]}.values() if not g["passed"]]
    lines += ["", "## Gates that failed", ""]
    notes = []
    labels = {chapter: {} for chapter in by_chapter}  # chapter → gate name → its label in the table, G1, G2, …
    if failed:
        lines += ["| | chapter | gate | per seed | each seed needs | seeds passing |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for chapter, g in failed:
            labels[chapter][g["name"]] = f"G{len(notes) + 1}"
            notes.append(f"[^gate-{len(notes) + 1}]: {md_cell(g['measurement'])}"
                         + (f". Certifies: {md_cell(g['independence'])}" if g.get("independence") else ""))
            passing = f"{g['n_passed']} of {len(g['values'])} (quorum {g['needed']})" if "values" in g else "—"
            lines.append("| " + " | ".join(md_cell(x) for x in (
                f"G{len(notes)}", chapter, f"{g['name']}[^gate-{len(notes)}]", _seed_values(g),
                f"{SIGNS[g['direction']]} {g['threshold']:g}", passing)) + " |")
        lines += [""] + notes
    else:
        lines.append("None: every gate of every executed chapter passed.")
    for chapter, records in by_chapter.items():
        settings = sorted({f"`{c['profile']}` profile on {c['device']}" for c in records})
        lines += ["", f"## {chapter}", "",
                  f"The chapter's claims section: {{ref}}`{chapter} <{claims_label(chapter)}>`. "
                  "Measured at the " + "; ".join(settings) + ".", "",
                  "| verdict | kind | paper | claim | measured |", "| --- | --- | --- | --- | --- |"]
        for kind in KINDS:
            for c in (c for c in records if c["kind"] == kind):
                reason = _short_reason(c, labels[chapter])
                verdict = verdict_badge(c["verdict"]) + (f" {reason}" if reason else "")
                seeds = f" ({c['seeds']})" if c.get("seeds") else ""
                lines.append("| " + " | ".join(md_cell(x) for x in (
                    verdict, kind, c["paper"], c["claim"], f"{c['measurement']}: **{c['value']}**{seeds}")) + " |")
    return "\n".join(lines) + "\n"


TOTALS_START, TOTALS_END = "<!-- claims-totals:start -->", "<!-- claims-totals:end -->"


def claims_totals(root: Path, chapter_dir: Path) -> str:
    """One sentence for the intro page: the four verdicts counted over the claims about the papers in every executed
    chapter, empirical apart, and the extensions (our readings) apart."""
    records = [c for chapter in chapters(root) if (chapter_dir / f"{chapter}.ipynb").is_file()
               for c in chapter_claims(chapter_dir / f"{chapter}.ipynb")]
    if not records:
        return "No chapter has been executed yet."

    def counted(rows) -> str:
        return ", ".join(f"{sum(c['verdict'] == v for c in rows)} {v}" for v in VERDICTS)

    paper = [c for c in records if c["kind"] in PAPER_KINDS]
    empirical = [c for c in records if c["kind"] == "empirical"]
    extensions = [c for c in records if c["kind"] not in PAPER_KINDS]
    text = (f"**In all, the executed chapters test {len(paper)} claims of the papers: {counted(paper)}.** Of the "
            f"{len(empirical)} empirical claims: {counted(empirical)}.")
    if extensions:
        text += f" Apart from these, {len(extensions)} extensions (our readings, not evidence about the papers): " \
                f"{counted(extensions)}."
    return text


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
            tracked = path.resolve().is_relative_to((root / "book").resolve())  # git tracks only book/'s copies
            fix = (f"`git checkout {path.resolve().relative_to(root.resolve())}` or `lsgan-book run {chapter}`"
                   if tracked else f"`lsgan-book run {chapter} --output-dir {chapter_dir}`")
            problems.append(f"{path} is not a readable notebook ({type(error).__name__}{where}: truncated or edited). "
                            f"Fix: {fix}")
            continue
        for index, cell in enumerate(cells):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                problems.append(f"{path}: cell {index} has an error output ({errors[0].get('ename')}: "
                                f"{errors[0].get('evalue')}). Fix: `lsgan-book run {chapter}`")
                break
    return problems
