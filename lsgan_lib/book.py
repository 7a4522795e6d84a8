"""The ``lsgan-book`` command: run chapters with papermill, build the book, list what there is.

    lsgan-book run [CHAPTER ...] [--profile P] [-p name=value ...] [-p chapter.name=value ...] [--scheduler ADDRESS]
    lsgan-book build [--sweep CHAPTER/NAME ...]
    lsgan-book sweep CHAPTER --profile P --grid name=[v1, v2] [--grid ...] [-p name=value ...]  (lsgan_lib.sweep)
    lsgan-book list

Parameters come from ``notebooks/profiles/<profile>.yml`` (keyed by chapter), then ``-p`` overrides, and are checked
against the notebook's cell tagged ``parameters`` before any kernel starts. That cell declares each parameter as an
annotated assignment with an optional constraint at the start of its comment::

    n_iter: int = 2000  # [1, 1000000] training iterations
    objective: str = "minimax"  # {"minimax", "non_saturating"} the GAN objective
    seeds: list[int] = [0, 1, 2]  # [0, None] one run per seed (the range applies to each element)

Types are ``int``, ``float``, ``bool``, ``str`` and ``list[...]`` of those; ``[lo, hi]`` is a closed range (``None``
leaves a side open) and ``{...}`` a set of allowed values.
"""

from __future__ import annotations

import argparse
import ast
import copy
import datetime as _dt
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import sweep
from .claims import KINDS, VERDICTS

EXIT_BAD_PARAMETERS = 2
SCALAR_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


class ParameterError(ValueError):
    """A parameter that a chapter does not have, or a value it does not accept."""


# ---------------------------------------------------------------------------------------------------------------------
# Project layout
# ---------------------------------------------------------------------------------------------------------------------


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding ``_config.yml`` and
    ``notebooks/``; else the folder above this package."""
    here = (start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "_config.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return Path(__file__).resolve().parent.parent


def chapters(root: Path) -> list[str]:
    """The chapters: every ``notebooks/<name>.ipynb``, by name."""
    return sorted(p.stem for p in (root / "notebooks").glob("*.ipynb"))


def profiles(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "notebooks" / "profiles").glob("*.yml"))


def load_profile(root: Path, name: str) -> dict[str, dict[str, Any]]:
    """``notebooks/profiles/<name>.yml``: chapter → parameter values. An unknown profile is a :class:`ParameterError`."""
    path = root / "notebooks" / "profiles" / f"{name}.yml"
    if not path.is_file():
        raise ParameterError(f"unknown profile {name!r}; available: {', '.join(profiles(root))}")
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict) or not all(isinstance(v, dict) or v is None for v in content.values()):
        raise ParameterError(f"{path} must map chapter names to parameter mappings")
    return {chapter: dict(values or {}) for chapter, values in content.items()}


def default_profile() -> str:
    """``gpu`` when CUDA is available, else ``cpu``."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


# ---------------------------------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # "int", "float", "bool", "str" or "list[<scalar>]"
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    help: str = ""

    @property
    def allowed(self) -> str:
        kind = f"a list of {self.type[5:-1]}" if self.type.startswith("list[") else f"a {self.type}"
        if self.choices is not None:
            return f"{kind} from {{{', '.join(repr(c) for c in self.choices)}}}"
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else repr(self.low)
            hi = "inf" if self.high is None else repr(self.high)
            return f"{kind} in [{lo}, {hi}]"
        return kind


def _parameters_cell(notebook: dict, path: Path) -> str:
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    raise ParameterError(f"{path} has no cell tagged 'parameters'")


def _comments(source: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {tok.start[0]: tok.string[1:].strip() for tok in tokens if tok.type == tokenize.COMMENT}


def _parse_constraint(comment: str) -> tuple[float | None, float | None, tuple | None, str]:
    """Split ``[lo, hi] help`` or ``{a, b} help`` into its constraint and help text."""
    match = re.match(r"^(\[[^\]]*\]|\{[^}]*\})\s*(.*)$", comment)
    if not match:
        return None, None, None, comment
    spec, text = match.groups()
    if spec.startswith("{"):
        return None, None, tuple(ast.literal_eval("[" + spec[1:-1] + "]")), text
    low, high = ast.literal_eval("(" + spec[1:-1] + ")")
    return low, high, None, text


def notebook_parameters(path: Path) -> dict[str, Parameter]:
    """The parameters a notebook declares in its cell tagged ``parameters`` (see the module docstring)."""
    notebook = json.loads(Path(path).read_text())
    source = _parameters_cell(notebook, path)
    comments = _comments(source)
    parameters = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
            raise ParameterError(f"{path}: every line of the parameters cell must read `name: type = value  # ...`, "
                                 f"found: {ast.unparse(node)}")
        kind = ast.unparse(node.annotation)
        scalar = kind[5:-1] if kind.startswith("list[") and kind.endswith("]") else kind
        if scalar not in SCALAR_TYPES:
            raise ParameterError(f"{path}: parameter {node.target.id!r} has unsupported type {kind!r}")
        low, high, choices, text = _parse_constraint(comments.get(node.lineno, ""))
        parameter = Parameter(node.target.id, kind, ast.literal_eval(node.value), low, high, choices, text)
        validate(parameter, parameter.default, "the notebook's default")
        parameters[parameter.name] = parameter
    return parameters


def _check_scalar(parameter: Parameter, value: Any, scalar: str, origin: str) -> Any:
    expected = SCALAR_TYPES[scalar]
    if scalar == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is not {parameter.allowed}")
    if parameter.choices is not None and value not in parameter.choices:
        raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is not allowed; "
                             f"allowed: {parameter.allowed}")
    if (parameter.low is not None and value < parameter.low) or (parameter.high is not None and value > parameter.high):
        raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is out of range; "
                             f"allowed: {parameter.allowed}")
    return value


def validate(parameter: Parameter, value: Any, origin: str) -> Any:
    """``value`` checked (and ``int`` widened to ``float``) against the parameter's type and constraint."""
    if parameter.type.startswith("list["):
        if not isinstance(value, list):
            raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is not {parameter.allowed}")
        return [_check_scalar(parameter, v, parameter.type[5:-1], origin) for v in value]
    return _check_scalar(parameter, value, parameter.type, origin)


def parse_overrides(pairs: list[str]) -> list[tuple[str | None, str, Any]]:
    """``["n_iter=5", "geometric_view.seeds=[0, 1]"]`` → ``[(None, "n_iter", 5), ("geometric_view", "seeds", [0, 1])]``.

    Values are read as YAML, so ``5`` is an int, ``0.5`` a float, ``true`` a bool and ``[0, 1]`` a list.
    """
    parsed = []
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"-p takes name=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        chapter, _, name = key.strip().rpartition(".")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            raise ParameterError(f"parameter {name!r}: cannot read value {raw!r}: {error}") from None
        parsed.append((chapter or None, name, value))
    return parsed


def resolve_parameters(root: Path, chapter: str, profile: str, overrides: list[tuple[str | None, str, Any]]
                       ) -> dict[str, Any]:
    """All of a chapter's parameter values: notebook defaults, then the profile, then ``-p`` overrides; validated."""
    declared = notebook_parameters(root / "notebooks" / f"{chapter}.ipynb")
    values = {name: p.default for name, p in declared.items()}
    sources = [(name, value, f"profile {profile}") for name, value in load_profile(root, profile).get(chapter, {}).items()]
    sources += [(name, value, "-p") for target, name, value in overrides if target in (None, chapter)]
    for name, value, origin in sources:
        if name not in declared:
            raise ParameterError(f"unknown parameter {name!r} for chapter {chapter} ({origin}); "
                                 f"known: {', '.join(declared)}")
        values[name] = validate(declared[name], value, origin)
    if "profile" in declared:
        values["profile"] = profile
    return values


# ---------------------------------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------------------------------


def git_commit(root: Path) -> str:
    """The checked-out commit, with ``+dirty`` when tracked files differ from it; ``unknown`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance_markdown(info: dict[str, Any]) -> str:
    rows = ["| provenance | |", "| --- | --- |"]
    rows += [f"| {key} | {str(value).replace('|', '/')} |" for key, value in info.items() if key != "parameters"]
    parameters = ", ".join(f"`{k}={v!r}`" for k, v in info.get("parameters", {}).items())
    rows.append(f"| parameters | {parameters} |")
    return "\n".join(rows)


def show_provenance(**info: Any) -> None:
    """Called by the cell the runner puts first in every executed chapter: shows profile, parameters, commit, device,
    torch version. The runner appends the wall time after execution."""
    import torch
    from IPython.display import Markdown, display

    from .training import device_name

    info = dict(info)
    info.update(device=device_name(), torch=torch.__version__, python=platform.python_version())
    display(Markdown(provenance_markdown(info)), metadata={"lsgan_provenance": info})


def _provenance_cell(info: dict[str, Any]):
    import nbformat

    source = f"from lsgan_lib.book import show_provenance\nshow_provenance(**{info!r})"
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-input", "lsgan-provenance"]})


def _finalise(notebook, seconds: float) -> None:
    """Add the wall time to the provenance cell's output and to the notebook's metadata, and fold the injected
    parameters cell (the provenance table already lists every parameter)."""
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            cell.metadata["tags"] = [*tags, "hide-input"]
        if "lsgan-provenance" in cell.metadata.get("tags", []):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "display_data" and "lsgan_provenance" in output.get("metadata", {}):
                    info = output["metadata"]["lsgan_provenance"]
                    info["wall time"] = f"{seconds:.1f} s"
                    output["data"]["text/markdown"] = provenance_markdown(info)
                    output["data"]["text/plain"] = "<provenance>"
                    notebook.metadata["lsgan"] = info


# ---------------------------------------------------------------------------------------------------------------------
# run, build, list
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class ChapterResult:
    chapter: str
    ok: bool
    seconds: float
    output: Path
    message: str = ""


def run_chapter(root: Path, chapter: str, profile: str, parameters: dict[str, Any], output_dir: Path,
                commit: str, failed_dir: Path | None = None) -> ChapterResult:
    """Execute one chapter with papermill's Python API into ``output_dir/<chapter>.ipynb``.

    A chapter that fails is written to ``failed_dir/<chapter>.ipynb`` (default ``_build/failed/``; the executed book
    copy is left untouched) and reported with its cell and error.
    """
    import nbformat
    import papermill

    source = nbformat.read(root / "notebooks" / f"{chapter}.ipynb", as_version=4)
    info = {"chapter": chapter, "profile": profile, "commit": commit,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "parameters": parameters}
    title_first = bool(source.cells) and source.cells[0].cell_type == "markdown" \
        and source.cells[0].source.lstrip().startswith("# ")
    source.cells.insert(1 if title_first else 0, _provenance_cell(info))  # first, after the chapter's title
    output_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="lsgan-run-")) / f"{chapter}.ipynb"
    started = time.perf_counter()
    try:
        papermill.execute_notebook(copy.deepcopy(source), str(scratch), parameters=parameters, cwd=str(root),
                                   kernel_name="python3", progress_bar=False, log_output=False)
    except papermill.PapermillExecutionError as error:
        failed = (failed_dir or root / "_build" / "failed") / f"{chapter}.ipynb"
        failed.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(scratch, failed)
        shutil.rmtree(scratch.parent)
        executed = nbformat.read(failed, as_version=4)
        cells = [c for c in executed.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
        inserted = sum(1 for cell in cells[:error.cell_index]  # papermill's error cell came after error.cell_index
                       if {"lsgan-provenance", "injected-parameters"} & set(cell.metadata.get("tags", [])))
        return ChapterResult(chapter, False, time.perf_counter() - started, failed,
                             f"in cell {error.cell_index - inserted} of notebooks/{chapter}.ipynb (counting from 0): "
                             f"{error.ename}: {error.evalue}")
    except Exception as error:  # the kernel died, or papermill could not start it: report, let the others run
        shutil.rmtree(scratch.parent, ignore_errors=True)
        return ChapterResult(chapter, False, time.perf_counter() - started, scratch,
                             f"papermill could not execute it: {type(error).__name__}: {error}")
    seconds = time.perf_counter() - started
    executed = nbformat.read(scratch, as_version=4)
    _finalise(executed, seconds)
    target = output_dir / f"{chapter}.ipynb"
    nbformat.write(executed, target)
    shutil.rmtree(scratch.parent)
    return ChapterResult(chapter, True, seconds, target)


def command_run(args) -> int:
    root = project_root()
    known = chapters(root)
    selected = args.chapters or known
    unknown = [c for c in selected if c not in known]
    if unknown:
        raise ParameterError(f"unknown chapter(s) {', '.join(unknown)}; chapters: {', '.join(known)}")
    profile = args.profile or default_profile()
    overrides = parse_overrides(args.parameter or [])
    targets = {target for target, _, _ in overrides if target is not None}
    if targets - set(selected):
        raise ParameterError(f"-p names chapter(s) not being run: {', '.join(sorted(targets - set(selected)))}")
    plan = {chapter: resolve_parameters(root, chapter, profile, overrides) for chapter in selected}  # validate all first
    output_dir = Path(args.output_dir) if args.output_dir else root / "book"
    commit = git_commit(root)
    if args.scheduler:  # the kernels fan train_sweep's groups out to this Dask cluster (lsgan_lib.sweep)
        os.environ["LSGAN_SCHEDULER"] = args.scheduler
    print(f"lsgan-book: running {len(plan)} chapter(s) at profile {profile} into {output_dir}", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_chapter, root, c, profile, p, output_dir, commit) for c, p in plan.items()]
        results = []
        for future in futures:
            result = future.result()
            results.append(result)
            state = "ok" if result.ok else "FAILED"
            detail = f" {result.message}" if result.message else ""
            print(f"  {result.chapter}: {state} in {result.seconds:.1f} s -> {result.output}{detail}", flush=True)
    failed = [r.chapter for r in results if not r.ok]
    if failed:
        print(f"lsgan-book: {len(failed)} chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


FONTS = ["*.woff", "*.woff2", "*.ttf", "*.eot", "*.svg"]
# (npm package folder, file patterns, folder inside _static). The widget manager asks for its fonts under
# _static/widget-fonts/, where book_assets/widgets-config.js tells require.js the widget manager lives.
WIDGET_ASSETS = [
    ("requirejs", ["require.js"], "."),
    ("@jupyter-widgets/html-manager/dist", ["embed-amd.js"], "."),
    ("@jupyter-widgets/html-manager/dist", FONTS, "widget-fonts"),
    ("mathjax/es5", ["tex-mml-chtml.js"], "mathjax"),
]
# Folders copied whole: what MathJax loads at run time relative to its script (fonts, the TeX extensions it autoloads,
# the menu, the accessibility explorer and its speech engine). _config.yml points Sphinx's mathjax_path at the script.
WIDGET_ASSET_TREES = [("mathjax/es5/" + folder, "mathjax/" + folder)
                      for folder in ("input", "output", "a11y", "ui", "sre", "adaptors")]


def stage_widget_assets(root: Path, search: list[Path] | None = None) -> Path:
    """Copy require.js, the widget manager and MathJax from ``node_modules`` into ``<root>/_build/widget-assets``.

    ``_config.yml`` serves that folder as static files and points ``nb_ipywidgets_js`` and ``mathjax_path`` at it, so
    sliders, progress bars and equations render without internet. ``node_modules`` is looked for in ``search`` (default: ``root``, then the project
    holding this package).
    """
    candidates = search or [root / "node_modules", Path(__file__).resolve().parent.parent / "node_modules"]
    modules = next((c for c in candidates if (c / "requirejs" / "require.js").is_file()), None)
    if modules is None:
        raise FileNotFoundError(
            f"the widget JavaScript is not installed: looked for node_modules/requirejs/require.js in "
            f"{' and '.join(str(c.parent) for c in candidates)}. Fix: run `npm ci` in the project root "
            f"(`make setup` does it).")
    target = root / "_build" / "widget-assets"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for folder, patterns, destination in WIDGET_ASSETS:
        (target / destination).mkdir(parents=True, exist_ok=True)
        for pattern in patterns:
            for file in (modules / folder).glob(pattern):
                shutil.copy2(file, target / destination / file.name)
    for folder, destination in WIDGET_ASSET_TREES:
        if not (modules / folder).is_dir():
            raise FileNotFoundError(f"{modules / folder} is missing: node_modules is older than package.json. Fix: run "
                                    f"`npm ci` in the project root (`make setup` does it).")
        shutil.copytree(modules / folder, target / destination)
    shutil.copy2(Path(__file__).resolve().parent.parent / "book_assets" / "widgets-config.js", target)
    return target


def claims_label(chapter: str) -> str:
    """The MyST label every chapter puts before its claims section: ``(<chapter-with-dashes>-claims)=``."""
    return f"{chapter.replace('_', '-')}-claims"


def chapter_claims(notebook_path: Path) -> list[dict[str, Any]]:
    """The claim records a chapter displayed with :func:`lsgan_lib.claims.show_claims`, with profile and device."""
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
    """An executed chapter whose claim records lack the fields of :class:`lsgan_lib.claims.Claim`."""


def claims_overview(root: Path, chapter_dir: Path) -> str:
    """The claims overview page, as MyST Markdown: the four verdicts counted apart (in all and per kind of claim),
    every gate that failed, then each chapter's claims grouped by kind, verdict first."""
    from .claims import verdict_badge

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
            sign = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}[g["direction"]]
            lines.append("| " + " | ".join(_md_cell(x) for x in (chapter, g["name"] + " — " + g["measurement"],
                                                                  f"{g['value']:.3g}", f"{sign} {g['threshold']:g}"))
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
                lines.append("| " + " | ".join(_md_cell(x) for x in (verdict, c["paper"], c["claim"],
                                                                      f"{c['measurement']}: **{c['value']}**")) + " |")
    return "\n".join(lines) + "\n"


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def command_build(args) -> int:
    root = Path(args.root).resolve() if args.root else project_root()
    stage_widget_assets(root)
    try:
        text = claims_overview(root, root / "book")
    except OutdatedClaims as error:
        print(f"lsgan-book: {error}", file=sys.stderr)
        return 1
    (root / "book" / "claims.md").write_text(text)
    toc = ["--toc", str(sweep.stage_book_pages(root, args.sweep))] if args.sweep else []  # sweeps' reports as pages
    executable = Path(sys.executable).parent / "jupyter-book"
    # --all: a full rebuild every time, so a warning is never hidden by an incremental build that skips its page
    command = [str(executable) if executable.exists() else "jupyter-book", "build", str(root), "--all", "-W", "-n",
               "--keep-going", *toc]
    if args.path_output:
        command += ["--path-output", str(args.path_output)]
    completed = subprocess.run(command, cwd=root)
    sweep.unstage_book_pages(root)
    index = (Path(args.path_output) if args.path_output else root) / "_build" / "html" / "index.html"
    if completed.returncode != 0:
        print(f"lsgan-book: jupyter-book build failed (exit {completed.returncode})", file=sys.stderr)
        return completed.returncode
    print(f"lsgan-book: the book is at {index}")
    return 0


def command_list(args) -> int:
    root = project_root()
    print("chapters:")
    for chapter in chapters(root):
        print(f"  {chapter}")
        for p in notebook_parameters(root / "notebooks" / f"{chapter}.ipynb").values():
            print(f"    {p.name} = {p.default!r}  ({p.allowed}){'  ' + p.help if p.help else ''}")
    print("profiles:")
    for name in profiles(root):
        print(f"  {name}")
        for chapter, values in load_profile(root, name).items():
            print(f"    {chapter}: " + ", ".join(f"{k}={v!r}" for k, v in values.items()))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="lsgan-book", description="Run and build the Geometric GANs book.")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute chapters with papermill into book/")
    run.add_argument("chapters", nargs="*", help="chapter names (default: all)")
    run.add_argument("--profile", help="smoke, quick, cpu, gpu or paper (default: gpu with CUDA, else cpu)")
    run.add_argument("-p", "--parameter", action="append", metavar="NAME=VALUE",
                     help="override a parameter (CHAPTER.NAME=VALUE for one chapter); repeatable")
    run.add_argument("--output-dir", help="where executed notebooks go (default: book/)")
    run.add_argument("--jobs", type=int, default=1, help="chapters executed at once (default 1)")
    run.add_argument("--scheduler", help="a Dask scheduler's address: train_sweep's groups train on its workers")
    run.set_defaults(func=command_run)
    build = sub.add_parser("build", help="build the HTML book with jupyter-book (warnings are errors)")
    build.add_argument("--root", help="the book's root folder (default: the project root)")
    build.add_argument("--path-output", help="where _build/ goes (default: the root)")
    build.add_argument("--sweep", action="append", metavar="CHAPTER/NAME", help="add a sweep's report as a page")
    build.set_defaults(func=command_build)
    listing = sub.add_parser("list", help="chapters, their parameters and the profiles")
    listing.set_defaults(func=command_list)
    sweep.add_parser(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "jobs", 1) < 1:
        print("lsgan-book: --jobs must be >= 1", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    try:
        return args.func(args)
    except ParameterError as error:
        print(f"lsgan-book: {error}", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    except FileNotFoundError as error:  # e.g. the widget JavaScript is not installed; the message names the fix
        print(f"lsgan-book: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
