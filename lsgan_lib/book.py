"""The ``lsgan-book`` command: run chapters with papermill, build the book, list what there is.

    lsgan-book run [CHAPTER ...] [--profile P | --profile-file PATH] [-p name=value ...] [-p chapter.name=value ...]
                   [--output-dir DIR] [--fresh] [--scheduler ADDRESS]
    lsgan-book build [--chapters DIR] [--sweep CHAPTER/NAME ...]
    lsgan-book serve [--dir HTML] [--port N]
    lsgan-book data [mnist|cifar10|celeba|all ...] [--to DIR] [--celeba-from PATH] [--if-missing]
    lsgan-book figures [CHAPTER ...] [--profile P]
    lsgan-book sweep CHAPTER --profile P --grid name=[v1, v2] [--grid ...] [-p name=value ...]  (lsgan_lib.sweep)
    lsgan-book list

``run`` writes ``book/`` only at the publishing profiles (cpu, gpu, paper); smoke, quick and a ``--profile-file`` go
to ``_build/runs/<profile>/`` (:mod:`lsgan_lib.publishing`).

Parameters come from ``notebooks/profiles/<profile>.yml`` (keyed by chapter; ``--profile`` takes only the names found
there, ``--profile-file`` an explicit file), then ``-p`` overrides, and are checked against the notebook's cell tagged
``parameters`` before any kernel starts. That cell declares each parameter as an annotated assignment with an optional
constraint at the start of its comment::

    n_iter: int = 2000  # [1, 1000000] training iterations
    objective: str = "minimax"  # {"minimax", "non_saturating"} the GAN objective
    seeds: list[int] = [0, 1, 2]  # [0, None] one run per seed (the range applies to each element)

Types are ``int``, ``float``, ``bool``, ``str`` and ``list[...]`` of those; ``[lo, hi]`` is a closed range (``None``
leaves a side open) and ``{...}`` a set of allowed values. A float must be finite (NaN and infinities are refused) and
may be written as Python writes it (``1e-10``, which YAML 1.1 would read as a string). A list whose default has
elements must keep at least one; a list whose default is empty may be empty. ``profile`` is set by ``--profile``,
never by ``-p`` or a profile file.

Faults (see the README's "When something goes wrong"): one Ctrl-C interrupts the running kernels, removes the scratch
folders and exits 130 naming what was cached; a chapter that fails or whose kernel dies is kept at
``_build/failed/<chapter>.ipynb``; ``build`` refuses executed chapters that are missing, unreadable or hold an error
output before it writes anything.
"""

from __future__ import annotations

import argparse
import ast
import copy
import datetime as _dt
import io
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import sweep
from .claims import KINDS, SIGNS, VERDICTS
from .publishing import (MachinePaths, check_portable, default_output_dir, kernel_settings, plain_progress_outputs,
                         serve_command)

EXIT_BAD_PARAMETERS = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
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
    """The chapters: every ``notebooks/<name>.ipynb``, in the book's order (``_toc.yml``), any not in the table of
    contents after them by name."""
    names = {p.stem for p in (root / "notebooks").glob("*.ipynb")}
    toc_path = root / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text()) if toc_path.is_file() else {}
    listed = [str(entry.get("file", "")).split("/")[-1] for part in (toc or {}).get("parts", [])
              for entry in part.get("chapters", [])]
    ordered = [name for name in dict.fromkeys(listed) if name in names]
    return ordered + sorted(names - set(ordered))


def profiles(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "notebooks" / "profiles").glob("*.yml"))


def profile_label(profile: str | Path) -> str:
    """A profile's name: the name given to ``--profile``, or the stem of a ``--profile-file``."""
    return profile.stem if isinstance(profile, Path) else profile


def profile_path(root: Path, profile: str | Path) -> Path:
    """The file of a profile: ``notebooks/profiles/<name>.yml`` for a name (only names listed there: never a path), or
    the explicit file given as a :class:`~pathlib.Path` (``--profile-file``)."""
    if isinstance(profile, Path):
        if not profile.is_file():
            raise ParameterError(f"--profile-file {profile}: no such file")
        return profile
    if not PROFILE_NAME.fullmatch(profile) or profile not in profiles(root):
        raise ParameterError(f"unknown profile {profile!r}; available: {', '.join(profiles(root))} (a profile file "
                             "elsewhere goes through --profile-file PATH)")
    return root / "notebooks" / "profiles" / f"{profile}.yml"


def load_profile(root: Path, name: str | Path) -> dict[str, dict[str, Any]]:
    """``notebooks/profiles/<name>.yml`` (or the file ``name`` when it is a :class:`~pathlib.Path`): chapter →
    parameter values. An unknown profile, or a file that is not plain YAML of that shape, is a :class:`ParameterError`
    naming the file (and the line)."""
    path = profile_path(root, name)
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:  # malformed, or a tag such as !!python/object that safe_load refuses
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParameterError(f"profile file {path}{where}: not a plain YAML mapping of chapters to parameters "
                             f"({problem})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ParameterError(f"profile file {path} cannot be read: {error}") from None
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
    try:
        notebook = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, ValueError) as error:
        raise ParameterError(f"{path} is not a readable notebook ({type(error).__name__}: truncated or edited). Fix: "
                             f"`git checkout {Path(path).name}` in notebooks/, or repair it") from None
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


def _as_float(value: Any) -> Any:
    """An int widened to float, and a string Python reads as a float (YAML 1.1 reads ``1e-10`` as a string) read as
    one; anything else unchanged."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


def _check_scalar(parameter: Parameter, value: Any, scalar: str, origin: str) -> Any:
    expected = SCALAR_TYPES[scalar]
    if scalar == "float":
        value = _as_float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is not {parameter.allowed}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is not a finite number; "
                             f"allowed: {parameter.allowed}")
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
        if not value and parameter.default:
            raise ParameterError(f"parameter {parameter.name!r}: [] ({origin}) is empty; the chapter needs at least "
                                 f"one element ({parameter.allowed})")
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


def resolve_parameters(root: Path, chapter: str, profile: str | Path, overrides: list[tuple[str | None, str, Any]]
                       ) -> dict[str, Any]:
    """All of a chapter's parameter values: notebook defaults, then the profile (a name, or a
    :class:`~pathlib.Path` of a profile file), then ``-p`` overrides; validated."""
    declared = notebook_parameters(root / "notebooks" / f"{chapter}.ipynb")
    values = {name: p.default for name, p in declared.items()}
    label = profile_label(profile)
    sources = [(name, value, f"profile {label}") for name, value in load_profile(root, profile).get(chapter, {}).items()]
    sources += [(name, value, "-p") for target, name, value in overrides if target in (None, chapter)]
    for name, value, origin in sources:
        if name == "profile":
            raise ParameterError(f"'profile' is not a parameter ({origin}): choose the profile with --profile NAME "
                                 "or --profile-file PATH")
        if name not in declared:
            raise ParameterError(f"unknown parameter {name!r} for chapter {chapter} ({origin}); "
                                 f"known: {', '.join(declared)}")
        values[name] = validate(declared[name], value, origin)
    if "profile" in declared:
        values["profile"] = label
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
    threads = info.get("parameters", {}).get("cpu_threads")  # the chapter's setup cell sets it after this cell
    info.update(device=device_name(threads=int(threads) if threads else None), torch=torch.__version__, python=platform.python_version())
    display(Markdown(provenance_markdown(info)), metadata={"lsgan_provenance": info})


def _provenance_cell(info: dict[str, Any]):
    import nbformat

    source = (f"from lsgan_lib.book import show_provenance\nfrom lsgan_lib.publishing import portable_warnings\n"
              f"portable_warnings()  # warnings name their file relative to the project, not by an absolute path\n"
              f"show_provenance(**{info!r})")
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-input", "lsgan-provenance"]})


def _finalise(notebook, seconds: float) -> None:
    """Add the wall time and the results record (entries computed and loaded, their content hash: see
    :func:`lsgan_lib.cache.ledger`) to the provenance cell's output and to the notebook's metadata, drop the cell that
    made the record, and fold the injected parameters cell (the provenance table already lists every parameter)."""
    plain_progress_outputs(notebook)  # a bar drawn by a kernel outside the runner's summary mode
    record = None
    for cell in list(notebook.cells):
        if "lsgan-results" in cell.metadata.get("tags", []):
            for output in cell.get("outputs", []):
                record = output.get("metadata", {}).get("lsgan_results", record)
            notebook.cells.remove(cell)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            cell.metadata["tags"] = [*tags, "hide-input"]
        if "lsgan-provenance" in cell.metadata.get("tags", []):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "display_data" and "lsgan_provenance" in output.get("metadata", {}):
                    info = output["metadata"]["lsgan_provenance"]
                    info["wall time"] = f"{seconds:.1f} s"
                    if record is not None:
                        info["results"] = (f"{record['computed']} computed, {record['loaded']} loaded from the cache; "
                                           f"sha256 {record['sha256'][:16]}")
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
    output: Path | None
    message: str = ""
    interrupted: bool = False
    warnings: tuple[str, ...] = ()


class Interruption:
    """What one Ctrl-C needs: the kernels running now. :meth:`stop` interrupts each (SIGINT to its process group, as
    the notebook's stop button does), then kills those still running after ``grace`` seconds. The chapters' threads
    see :attr:`requested` and clean up."""

    def __init__(self):
        self.requested = False
        self._kernels: dict[str, Any] = {}
        self._lock = threading.Lock()

    def register(self, chapter: str, manager) -> None:
        with self._lock:
            self._kernels[chapter] = manager

    def unregister(self, chapter: str) -> None:
        with self._lock:
            self._kernels.pop(chapter, None)

    def _pids(self) -> dict[str, int]:
        with self._lock:
            managers = dict(self._kernels)
        pids = {}
        for chapter, manager in managers.items():
            process = getattr(getattr(manager, "provisioner", None), "process", None)
            if process is not None and process.poll() is None:
                pids[chapter] = process.pid
        return pids

    def stop(self, grace: float = 3.0, limit: float = 30.0) -> None:
        """Interrupt every running kernel (and any that starts meanwhile); kill those still running ``grace`` seconds
        later; return when every chapter has let go of its kernel, or after ``limit`` seconds."""
        self.requested = True
        signalled: set[int] = set()
        started = time.monotonic()
        while self._kernels and time.monotonic() - started < limit:
            late = time.monotonic() - started >= grace
            for pid in self._pids().values():
                if late:
                    _signal_group(pid, signal.SIGKILL)
                elif pid not in signalled:
                    _signal_group(pid, signal.SIGINT)
                    signalled.add(pid)
            time.sleep(0.05)


def _signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the kernel's process group (jupyter_client starts each kernel in a session of its own)."""
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        pass


# cells that are not the chapter's own: the runner's, papermill's injected parameters and its error banners
INSERTED_TAGS = frozenset({"lsgan-provenance", "injected-parameters", "lsgan-results", "papermill-error-cell-tag"})


def _source_index(notebook, index: int) -> int:
    """The executed notebook's cell ``index`` as a cell of ``notebooks/<chapter>.ipynb`` (counting from 0)."""
    return index - sum(1 for cell in notebook.cells[:index] if INSERTED_TAGS & set(cell.metadata.get("tags", [])))


def _started_cells(notebook) -> int | None:
    """The cell of ``notebooks/<chapter>.ipynb`` (counting from 0) that papermill started last, or ``None``."""
    last = None
    for index, cell in enumerate(notebook.cells):
        if not INSERTED_TAGS & set(cell.metadata.get("tags", [])) and \
                cell.metadata.get("papermill", {}).get("start_time"):
            last = _source_index(notebook, index)
    return last


def _keep_failed(root: Path, chapter: str, scratch: Path, failed_dir: Path | None = None):
    """Move a failed execution's notebook from the scratch folder to ``failed_dir/<chapter>.ipynb`` (default
    ``_build/failed/``; removing the scratch folder); return its path and the notebook, or ``(None, None)`` when
    papermill wrote none."""
    import nbformat

    failed = (failed_dir or root / "_build" / "failed") / f"{chapter}.ipynb"
    try:
        if not scratch.is_file():
            return None, None
        failed.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(scratch, failed)
        return failed, nbformat.read(failed, as_version=4)
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)


def cache_warnings(notebook) -> tuple[str, ...]:
    """The results-cache warnings a chapter's kernel printed (corrupt entries, an unwritable folder), one line each,
    so that the runner can show them on the terminal and not only in the notebook."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                for line in output.get("text", "").splitlines():
                    if "results cache:" in line:
                        text = line[line.index("results cache:"):].strip()
                        if text not in found:
                            found.append(text)
    return tuple(found)


def _results_cell():
    import nbformat

    source = "from lsgan_lib.book import show_results_record\nshow_results_record()"
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell", "lsgan-results"]})


def show_results_record() -> None:
    """Called by the cell the runner puts last in every executed chapter: shows (as output metadata) how many
    results-cache entries the kernel computed and loaded, and their content hash. The runner moves it into the
    provenance table and drops the cell."""
    from IPython.display import display

    from .cache import ledger

    display({"text/plain": "<results record>"}, raw=True, metadata={"lsgan_results": ledger()})


def run_chapter(root: Path, chapter: str, profile: str, parameters: dict[str, Any], output_dir: Path,
                commit: str, stop: Interruption | None = None, results: str | None = None,
                failed_dir: Path | None = None) -> ChapterResult:
    """Execute one chapter with papermill's Python API into ``output_dir/<chapter>.ipynb``.

    A chapter that fails, or whose kernel dies, is written to ``failed_dir/<chapter>.ipynb`` (default
    ``_build/failed/``; the executed book copy is left untouched) and reported with its cell and error. When ``stop`` is set (Ctrl-C) the kernel is
    interrupted, nothing is kept but the results cache, and the result says ``interrupted``. ``results`` describes
    the results cache for the provenance.
    """
    import nbformat
    import papermill
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    stop = stop or Interruption()
    started = time.perf_counter()
    if stop.requested:
        return ChapterResult(chapter, False, 0.0, None, "not started", interrupted=True)
    source = nbformat.read(root / "notebooks" / f"{chapter}.ipynb", as_version=4)
    info = {"chapter": chapter, "profile": profile, "commit": commit,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "parameters": parameters}
    if results:
        info["results cache"] = results
    title_first = bool(source.cells) and source.cells[0].cell_type == "markdown" \
        and source.cells[0].source.lstrip().startswith("# ")
    source.cells.insert(1 if title_first else 0, _provenance_cell(info))  # first, after the chapter's title
    source.cells.append(_results_cell())
    output_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="lsgan-run-")) / f"{chapter}.ipynb"
    manager = AsyncKernelManager(kernel_name="python3", **kernel_settings())  # IPC sockets, summary progress
    stop.register(chapter, manager)
    try:
        papermill.execute_notebook(copy.deepcopy(source), str(scratch), parameters=parameters, cwd=str(root),
                                   kernel_name="python3", progress_bar=False, log_output=False, km=manager)
    except Exception as error:  # noqa: BLE001 - a cell error, a dead kernel, or a kernel that never started
        seconds = time.perf_counter() - started
        if stop.requested:
            partial = nbformat.read(scratch, as_version=4) if scratch.is_file() else None
            shutil.rmtree(scratch.parent, ignore_errors=True)
            cell = _started_cells(partial) if partial is not None else None
            where = f" in cell {cell} of notebooks/{chapter}.ipynb" if cell is not None else ""
            return ChapterResult(chapter, False, seconds, None, f"interrupted{where}", interrupted=True,
                                 warnings=cache_warnings(partial) if partial is not None else ())
        failed, executed = _keep_failed(root, chapter, scratch, failed_dir)
        found = cache_warnings(executed) if executed is not None else ()
        if isinstance(error, papermill.PapermillExecutionError):
            cell = _started_cells(executed)  # papermill stops at the cell that raised
            return ChapterResult(chapter, False, seconds, failed,
                                 f"in cell {cell} of notebooks/{chapter}.ipynb (counting from 0): {error.ename}: "
                                 f"{error.evalue}", warnings=found)
        cell = _started_cells(executed) if executed is not None else None
        where = f" in cell {cell} of notebooks/{chapter}.ipynb (counting from 0)" if cell is not None else ""
        kept = f"; the failed notebook is at {failed}" if failed is not None else ""
        what = "the kernel died" if "DeadKernel" in type(error).__name__ else "papermill could not execute it"
        return ChapterResult(chapter, False, seconds, failed, f"{what}{where}: {type(error).__name__}: "
                             f"{str(error).strip().splitlines()[0] if str(error).strip() else ''}{kept}",
                             warnings=found)
    finally:
        stop.unregister(chapter)
        if manager.has_kernel:
            try:
                run_sync(manager.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
    seconds = time.perf_counter() - started
    executed = nbformat.read(scratch, as_version=4)
    _finalise(executed, seconds)
    target = output_dir / f"{chapter}.ipynb"
    nbformat.write(executed, target)
    shutil.rmtree(scratch.parent)
    return ChapterResult(chapter, True, seconds, target, warnings=cache_warnings(executed))


class Terminated(KeyboardInterrupt):
    """SIGTERM during ``lsgan-book run``: handled as a Ctrl-C, with exit status 143."""


def _terminate(signum, frame):
    raise Terminated()


def _entries_written_since(folder: Path, since: float) -> int:
    """How many results-cache files under ``folder`` were written at or after ``since`` (a ``time.time()``)."""
    if not folder.is_dir():
        return 0
    return sum(1 for path in folder.rglob("*.pt") if path.stat().st_mtime >= since)


def _prepare_output_dir(output_dir: Path) -> None:
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParameterError(f"--output-dir {output_dir} cannot be created: {error.strerror or error}") from None
    if not os.access(output_dir, os.W_OK):
        raise ParameterError(f"--output-dir {output_dir} is not writable")


def _portable(folder: Path, root: Path) -> str:
    """A results folder as the provenance shows it: relative to the project, else only as ``$LSGAN_RESULTS/…`` — the
    published page names no folder of the machine that ran it."""
    folder, base = Path(folder).resolve(), Path(os.environ.get("LSGAN_RESULTS", root / "results")).resolve()
    for anchor, name in ((root.resolve(), ""), (base, "$LSGAN_RESULTS")):
        if folder == anchor or anchor in folder.parents:
            return str(Path(name) / folder.relative_to(anchor)) if name else str(folder.relative_to(anchor))
    return "a folder outside the project"


def _fresh_results(stamp: str) -> Path:
    """A new, empty results cache for ``--fresh``: ``<results>/fresh/<stamp>``, made the cache of this process and of
    the kernels it starts (through ``LSGAN_RESULTS``)."""
    from . import cache

    folder = cache.results_dir() / "fresh" / stamp
    folder.mkdir(parents=True, exist_ok=False)
    os.environ["LSGAN_RESULTS"] = str(folder)
    return folder


def _report(result: ChapterResult) -> None:
    state = "ok" if result.ok else "FAILED"
    detail = f" {result.message}" if result.message else ""
    print(f"  {result.chapter}: {state} in {result.seconds:.1f} s -> {result.output}{detail}", flush=True)
    for line in result.warnings:
        print(f"  {result.chapter}: warning: {line}", file=sys.stderr, flush=True)


def _interrupted_line(results: list[ChapterResult], pending: list[str], folder: Path, since: float,
                      output_dir: Path) -> str:
    stopped = [f"{r.chapter} ({r.message})" for r in results if r.interrupted and r.message != "not started"]
    written = _entries_written_since(folder, since)
    parts = ["interrupted"]
    parts.append(f"stopped {', '.join(stopped)}" if stopped else "no chapter was running")
    if pending:
        parts.append(f"not run: {', '.join(pending)}")
    parts.append(f"{written} results-cache entr{'y' if written == 1 else 'ies'} written so far kept in {folder}")
    return ("lsgan-book: " + "; ".join(parts) + "; run the same command again to resume from them (the stopped "
            f"chapters' executed copies in {output_dir} are unchanged)")


def command_run(args) -> int:
    from . import cache

    root = project_root()
    known = chapters(root)
    selected = args.chapters or known
    unknown = [c for c in selected if c not in known]
    if unknown:
        raise ParameterError(f"unknown chapter(s) {', '.join(unknown)}; chapters: {', '.join(known)}")
    if args.profile and args.profile_file:
        raise ParameterError("give --profile or --profile-file, not both")
    profile = Path(args.profile_file) if args.profile_file else (args.profile or default_profile())
    overrides = parse_overrides(args.parameter or [])
    targets = {target for target, _, _ in overrides if target is not None}
    if targets - set(selected):
        raise ParameterError(f"-p names chapter(s) not being run: {', '.join(sorted(targets - set(selected)))}")
    plan = {chapter: resolve_parameters(root, chapter, profile, overrides) for chapter in selected}  # validate all first
    output_dir = Path(args.output_dir) if args.output_dir else default_output_dir(root, profile)
    _prepare_output_dir(output_dir)
    commit = git_commit(root)
    if args.scheduler:  # the kernels fan train_sweep's groups out to this Dask cluster (lsgan_lib.sweep)
        os.environ["LSGAN_SCHEDULER"] = args.scheduler
    label = profile_label(profile)
    if args.fresh:
        folder = _fresh_results(_dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S"))
        results = f"fresh: empty at the start ({_portable(folder, root)})"
    else:
        folder = cache.results_dir()
        results = f"shared: {_portable(folder, root)}"
    print(f"lsgan-book: running {len(plan)} chapter(s) at profile {label} into {output_dir}"
          + (f" with a new, empty results cache {folder}" if args.fresh else ""), flush=True)
    stop, since = Interruption(), time.time()
    previous_term = signal.signal(signal.SIGTERM, _terminate)  # `kill` stops the run as Ctrl-C does
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    futures = {c: pool.submit(run_chapter, root, c, label, p, output_dir, commit, stop, results)
               for c, p in plan.items()}
    results_: list[ChapterResult] = []
    try:
        for future in futures.values():
            result = future.result()
            results_.append(result)
            _report(result)
    except KeyboardInterrupt as interrupt:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stop.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            done = [f.result() for f in futures.values() if f.done() and not f.cancelled()]
            pending = [c for c, f in futures.items() if f.cancelled()]
            for result in done:
                for line in result.warnings:
                    print(f"  {result.chapter}: warning: {line}", file=sys.stderr, flush=True)
            print(_interrupted_line(done, pending, folder, since, output_dir), file=sys.stderr, flush=True)
        finally:
            signal.signal(signal.SIGINT, previous)
        return 128 + signal.SIGTERM if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED
    finally:
        pool.shutdown(wait=True)
        signal.signal(signal.SIGTERM, previous_term)
    failed = [r.chapter for r in results_ if not r.ok]
    if failed:
        print(f"lsgan-book: {len(failed)} chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    if output_dir.resolve() != (root / "book").resolve():  # not the published chapters: say how to see them
        print(f"lsgan-book: book/ is untouched; build these chapters with `lsgan-book build --chapters {output_dir}`")
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
            lines.append("| " + " | ".join(_md_cell(x) for x in (chapter, g["name"] + " — " + g["measurement"],
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
                lines.append("| " + " | ".join(_md_cell(x) for x in (verdict, c["paper"], c["claim"],
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


def _md_cell(text: Any) -> str:
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


def command_build(args) -> int:
    root = project = Path(args.root).resolve() if args.root else project_root()
    if getattr(args, "chapters", None):  # a book of chapters executed outside book/ (smoke, quick), built apart
        from .publishing import stage_site

        root = stage_site(root, Path(args.chapters))
    problems = executed_chapter_problems(root, root / "book")
    if problems:  # refuse before anything is written: book/claims.md stays as it is
        for line in problems:
            print(f"lsgan-book: cannot build: {line}", file=sys.stderr)
        return 1
    check_portable(root / "book", chapters(root), project=project)
    stage_widget_assets(root)
    try:
        text = claims_overview(root, root / "book")
        intro = with_totals((root / "book" / "intro.md").read_text(), claims_totals(root, root / "book"))
    except (OutdatedClaims, ValueError) as error:
        print(f"lsgan-book: {error}", file=sys.stderr)
        return 1
    (root / "book" / "claims.md").write_text(text)
    (root / "book" / "intro.md").write_text(intro)
    toc = ["--toc", str(sweep.stage_book_pages(root, args.sweep, project))] if args.sweep else []  # sweep reports
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
    print(f"lsgan-book: the book is at {index}\n"
          f"lsgan-book: read it with `{serve_command(index.parent, project)}` (then open the URL it prints): opened "
          "from file:// the browser blocks the sliders' widget script")
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


def command_serve(args) -> int:
    from .publishing import serve

    serve(Path(args.dir) if args.dir else project_root() / "_build" / "html", args.port)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="lsgan-book", description="Run and build the Geometric GANs book.")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute chapters with papermill into book/")
    run.add_argument("chapters", nargs="*", help="chapter names (default: all)")
    run.add_argument("--profile", help="a profile of notebooks/profiles/: smoke, quick, cpu, gpu or paper (default: gpu "
                     "with CUDA, else cpu)")
    run.add_argument("--profile-file", metavar="PATH", help="a profile file of your own (YAML keyed by chapter), "
                     "instead of --profile")
    run.add_argument("--fresh", action="store_true", help="use a new, empty results cache (results/fresh/<time>): "
                     "every result is computed from scratch, as the published chapters are")
    run.add_argument("-p", "--parameter", action="append", metavar="NAME=VALUE",
                     help="override a parameter (CHAPTER.NAME=VALUE for one chapter); repeatable")
    run.add_argument("--output-dir", help="where executed notebooks go (default: book/ at the cpu, gpu and paper "
                     "profiles, _build/runs/<profile>/ at smoke and quick)")
    run.add_argument("--jobs", type=int, default=1, help="chapters executed at once (default 1)")
    run.add_argument("--scheduler", help="a Dask scheduler's address: train_sweep's groups train on its workers")
    run.set_defaults(func=command_run)
    build = sub.add_parser("build", help="build the HTML book with jupyter-book (warnings are errors)")
    build.add_argument("--root", help="the book's root folder (default: the project root)")
    build.add_argument("--path-output", help="where _build/ goes (default: the root)")
    build.add_argument("--chapters", metavar="DIR", help="build from the executed chapters in DIR (e.g. "
                       "_build/runs/smoke) in a copy of the sources at DIR/site, leaving book/ untouched")
    build.add_argument("--sweep", action="append", metavar="CHAPTER/NAME", help="add a sweep's report as a page")
    build.set_defaults(func=command_build)
    listing = sub.add_parser("list", help="chapters, their parameters and the profiles")
    listing.set_defaults(func=command_list)
    serving = sub.add_parser("serve", help="serve the built book on localhost (the sliders need http://, not file://)")
    serving.add_argument("--dir", help="the HTML folder (default: _build/html in the project root)")
    serving.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serving.set_defaults(func=command_serve)
    from .data_setup import add_data_command
    from .publishing import add_figures_command

    add_data_command(sub)
    add_figures_command(sub)
    sweep.add_parser(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "jobs", 1) < 1:
        print("lsgan-book: --jobs must be >= 1", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    try:
        return args.func(args)
    except KeyboardInterrupt:  # before any kernel started (run handles its own), or during build
        print(f"lsgan-book: interrupted during `{args.command}`; nothing was published", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ParameterError as error:
        print(f"lsgan-book: {error}", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    except (FileNotFoundError, MachinePaths) as error:  # e.g. the widget JavaScript is not installed; names the fix
        print(f"lsgan-book: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
