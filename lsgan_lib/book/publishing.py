"""What ``lsgan-book`` needs to publish a book safely: where executed chapters go, how the kernels run, the refusal of
machine-specific paths, a throw-away site for unpublished profiles, and a local server to read the result.

- Only the publishing profiles (:data:`PUBLISHING_PROFILES`) write ``book/`` by default; ``smoke`` and ``quick`` go to
  ``_build/runs/<profile>/`` (:func:`default_output_dir`), so a test run never overwrites the published chapters.
- The kernels papermill starts talk to it over IPC sockets (no TCP warning) and print one summary line per training
  loop instead of a progress widget (:func:`kernel_settings`).
- A chapter whose outputs name the home folder, the data root or the project's folder is refused by the build
  (:func:`machine_paths`).
- Scratch folders (``lsgan-run-*``, ``lsgan-sweep-*``, ``lsgan-figures-*`` in the temporary folder, and the
  ``lsgan-kernel-*`` socket folders of earlier versions) record the process that made them (:func:`scratch_folder`);
  those a killed run left behind are removed at the next start (:func:`remove_stale_scratch`).
- :func:`stage_site` builds a book from executed chapters that are not in ``book/``; :func:`serve` serves the HTML on
  localhost (the sliders' widget script does not load from ``file://``).
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

PUBLISHING_PROFILES = ("cpu", "gpu", "paper")


def default_output_dir(root: Path, profile: str | Path) -> Path:
    """``book/`` for a publishing profile, else ``_build/runs/<profile>/`` (where a test run cannot overwrite the
    published chapters). A profile given as a file (``--profile-file``) never publishes: ``_build/runs/<stem>/``."""
    if isinstance(profile, Path):
        return root / "_build" / "runs" / profile.stem
    return root / "book" if profile in PUBLISHING_PROFILES else root / "_build" / "runs" / profile


def kernel_settings(scratch: Path) -> dict[str, Any]:
    """Keyword arguments for ``papermill.execute_notebook``, and the environment the kernels inherit.

    The kernel listens on IPC sockets (Unix) in the caller's scratch folder ``scratch`` (one per kernel, removed with
    it) instead of unencrypted TCP on localhost — the same machine-local channel without ipykernel's "running over TCP
    without encryption" warning; its other messages and errors still show.
    ``LSGAN_PROGRESS=summary`` (unless set already) makes training loops print one line each instead of a progress
    widget that would stay frozen in the executed notebook.
    """
    from traitlets.config import Config

    os.environ.setdefault("LSGAN_PROGRESS", "summary")
    config = Config()
    if os.name == "posix":
        # Each kernel gets its own folder for its sockets: left to itself, jupyter_client names them kernel-ipc-N in
        # the working directory, and two kernels started at once (--jobs 2) would share them.
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(Path(scratch) / "kernel")
    return {"config": config}


# ---------------------------------------------------------------------------------------------------------------------
# Scratch folders
# ---------------------------------------------------------------------------------------------------------------------

# lsgan-kernel- folders (kernel sockets) are no longer made: the sockets live in the run's scratch folder
SCRATCH_PREFIXES = ("lsgan-run-", "lsgan-kernel-", "lsgan-sweep-", "lsgan-figures-")
SCRATCH_OWNER = ".lsgan-owner"  # the process id of the process that made the folder
STALE_AFTER = 24 * 3600.0  # seconds: a scratch folder this old whose owner is gone is a killed run's


def scratch_folder(prefix: str) -> Path:
    """A new folder ``<temporary folder>/<prefix>XXXX`` (``prefix`` one of :data:`SCRATCH_PREFIXES`) recording this
    process as its owner, so that :func:`remove_stale_scratch` leaves it alone while this process lives."""
    if prefix not in SCRATCH_PREFIXES:
        raise ValueError(f"scratch_folder: prefix {prefix!r} is not one of {SCRATCH_PREFIXES}")
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / SCRATCH_OWNER).write_text(str(os.getpid()))
    return folder


def _owner_alive(folder: Path) -> bool:
    """Whether the process recorded in ``folder`` (:func:`scratch_folder`) still runs; ``False`` without a record."""
    try:
        pid = int((folder / SCRATCH_OWNER).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):  # no record, an unreadable one, or no such process
        return False
    return True


def remove_stale_scratch(temporary: Path | None = None, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove the project's scratch folders (by name: :data:`SCRATCH_PREFIXES`) in ``temporary`` (default: the
    temporary folder) that killed runs left behind: older than ``older_than`` seconds and not owned by a live process.
    Returns the folders removed. Anything else in the folder is never touched."""
    temporary = Path(temporary or tempfile.gettempdir())
    removed = []
    cutoff = time.time() - older_than
    for folder in sorted(temporary.glob("lsgan-*")):
        if not folder.name.startswith(SCRATCH_PREFIXES) or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            if folder.stat().st_mtime > cutoff or _owner_alive(folder):
                continue
        except OSError:  # removed meanwhile
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    return removed


# ---------------------------------------------------------------------------------------------------------------------
# Machine-specific paths in executed outputs
# ---------------------------------------------------------------------------------------------------------------------


class MachinePaths(ValueError):
    """An executed chapter whose outputs contain an absolute path of the machine that ran it."""


def _text_of(output: dict) -> list[str]:
    """The readable text of one notebook output (images and widget views left out: base64 can hold any string)."""
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        return ["".join(text) if isinstance(text, list) else text]
    if output.get("output_type") == "error":
        return [output.get("evalue", ""), *output.get("traceback", [])]
    texts = []
    for mime, value in output.get("data", {}).items():
        if mime.startswith("image/") or mime.startswith("application/vnd.jupyter.widget"):
            continue
        texts.append(json.dumps(value) if not isinstance(value, (str, list)) else
                     "".join(value) if isinstance(value, list) else value)
    return texts


def private_paths(data_root: Path | None = None, project: Path | None = None) -> list[str]:
    """The absolute paths no published output may contain: the home folder, the data root (as given and resolved)
    and the project's folder (``project``, default the checkout holding this package — Python's warnings name their
    source file by it). A path of one component (``/``; ``/root`` has two) is left out: it would match everywhere."""
    from ..data.images import data_root as default_data_root

    candidates = {str(Path.home()), str(Path(__file__).resolve().parents[2])}
    if project is not None:
        candidates |= {str(project), str(Path(project).resolve())}
    root = data_root if data_root is not None else default_data_root()
    candidates |= {str(root), str(Path(root).expanduser().resolve())}
    return sorted((p.rstrip("/") for p in candidates if len(Path(p).parts) >= 2), key=len, reverse=True)


def machine_paths(notebook_path: Path, forbidden: list[str] | None = None) -> list[tuple[int, str]]:
    """``(cell index, path)`` for every output of the executed notebook that contains one of ``forbidden``
    (default: :func:`private_paths`), where the path is followed by ``/``, a quote, a space or the end."""
    forbidden = private_paths() if forbidden is None else forbidden
    patterns = [(path, re.compile(re.escape(path) + r"(?=$|[/\s'\"`,;:)\]}\\])")) for path in forbidden]
    notebook = json.loads(Path(notebook_path).read_text())
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        for output in cell.get("outputs", []):
            for text in _text_of(output):
                for path, pattern in patterns:
                    if pattern.search(text) and (index, path) not in found:
                        found.append((index, path))
    return found


def check_portable(chapter_dir: Path, chapters: list[str], forbidden: list[str] | None = None,
                   project: Path | None = None) -> None:
    """:class:`MachinePaths` naming each executed chapter in ``chapter_dir`` whose outputs contain a private path
    (default :func:`private_paths` with ``project``)."""
    forbidden = private_paths(project=project) if forbidden is None else forbidden
    problems = []
    for chapter in chapters:
        executed = chapter_dir / f"{chapter}.ipynb"
        if executed.is_file():
            problems += [f"{executed} cell {index}: {path}" for index, path in machine_paths(executed, forbidden)]
    if problems:
        raise MachinePaths(
            "executed output contains a machine-specific absolute path (the home folder, the data root or the "
            "project's folder): "
            + "; ".join(problems) + ". Fix: print paths relative to the data root or the project (or not at all) in "
            "the chapter's source, and re-execute it with `lsgan-book run <chapter>`.")


def portable_warnings(project: Path | None = None) -> None:
    """Make Python's warnings name their source file relative to ``project`` (default: the checkout holding this
    package) or to the installed packages (``<site-packages>/...``) instead of by an absolute path of this machine.
    The warning, its category, line number and source line still show; only the folder prefix goes. The runner
    calls it first in every kernel, so a chapter's outputs stay free of machine paths (:func:`machine_paths`)."""
    import linecache
    import sysconfig
    import warnings

    prefixes = [(str(Path(project or Path(__file__).resolve().parents[2])), "")]
    prefixes += [(sysconfig.get_paths()[key], "<site-packages>/") for key in ("purelib", "platlib")]
    prefixes += [(sysconfig.get_paths()["stdlib"], "<python>/")]
    original = getattr(warnings.formatwarning, "_lsgan_original", warnings.formatwarning)

    def formatwarning(message, category, filename, lineno, line=None):
        if line is None:
            line = linecache.getline(filename, lineno)
        for prefix, label in prefixes:
            if prefix and str(filename).startswith(prefix.rstrip(os.sep) + os.sep):
                filename = label + str(filename)[len(prefix.rstrip(os.sep)) + 1:]
                break
        return original(message, category, filename, lineno, line)

    formatwarning._lsgan_original = original
    warnings.formatwarning = formatwarning


# ---------------------------------------------------------------------------------------------------------------------
# A site for chapters executed outside book/, and a local server
# ---------------------------------------------------------------------------------------------------------------------

SITE_FILES = ("_config.yml", "_toc.yml", "references.bib")
SITE_FOLDERS = ("notebooks", "book_assets")


def stage_site(root: Path, chapter_dir: Path) -> Path:
    """A copy of the book's sources in ``<chapter_dir>/site`` whose ``book/`` holds the hand-written pages of
    ``root/book`` and the executed chapters of ``chapter_dir``: the book of an unpublished profile, built without
    touching ``book/``. Returns the copy's root."""
    chapter_dir = Path(chapter_dir).resolve()
    executed = sorted(chapter_dir.glob("*.ipynb"))
    if not executed:
        raise FileNotFoundError(f"{chapter_dir} holds no executed chapter (*.ipynb). Fix: run "
                                f"`lsgan-book run --profile <profile> --output-dir {chapter_dir}` first.")
    site = chapter_dir / "site"
    shutil.rmtree(site, ignore_errors=True)
    (site / "book").mkdir(parents=True)
    for name in SITE_FILES:
        shutil.copy2(root / name, site / name)
    for folder in SITE_FOLDERS:
        shutil.copytree(root / folder, site / folder)
    for page in (root / "book").glob("*.md"):
        shutil.copy2(page, site / "book" / page.name)
    for notebook in executed:
        shutil.copy2(notebook, site / "book" / notebook.name)
    if (root / "node_modules").exists():
        (site / "node_modules").symlink_to((root / "node_modules").resolve(), target_is_directory=True)
    return site


def serve_command(html: Path, root: Path) -> str:
    """The command that serves ``html``: ``lsgan-book serve``, with ``--dir`` unless it is the default."""
    default = (root / "_build" / "html").resolve()
    return "lsgan-book serve" + ("" if Path(html).resolve() == default else f" --dir {html}")


def make_server(html: Path, port: int = 8000, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    """An HTTP server of the folder ``html`` on ``host:port`` (port 0: any free port); request logs are silent."""
    if not (Path(html) / "index.html").is_file():
        raise FileNotFoundError(f"{html} holds no index.html: the book is not built. Fix: run `lsgan-book build` "
                                "(or `make book`).")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    return http.server.ThreadingHTTPServer((host, port), functools.partial(Quiet, directory=str(html)))


def serve(html: Path, port: int = 8000, host: str = "127.0.0.1") -> None:
    """Serve the built book until Ctrl-C, printing its URL first."""
    server = make_server(html, port, host)
    print(f"lsgan-book: serving {html} at http://{host}:{server.server_address[1]}/ (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# ---------------------------------------------------------------------------------------------------------------------
# lsgan-book figures: every figure a chapter shows, held to plots.text_layout_problems
# ---------------------------------------------------------------------------------------------------------------------

_FIGURE_HOOK = '''
import json as _json

import matplotlib.pyplot as _plt

from lsgan_lib import plots as _plots

_shown, _framed = _plt.show, _plots.figure_png


def _check(fig, dpi, where, clipped):
    title = fig._suptitle.get_text() if fig._suptitle is not None else (fig.axes[0].get_title() if fig.axes else "")
    problems = _plots.text_layout_problems(fig, dpi=dpi, clipped=clipped)
    with open({path!r}, "a") as report:
        report.write(_json.dumps(dict(where=where, title=title, size=[round(v, 2) for v in fig.get_size_inches()],
                                      problems=problems)) + "\\n")


def _show(*args, **kwargs):
    for number in _plt.get_fignums():
        _check(_plt.figure(number), None, "figure", False)
    return _shown(*args, **kwargs)


def _frame(fig, dpi=72):
    _check(fig, dpi, "slider frame", True)
    return _framed(fig, dpi)


_plt.show, _plots.figure_png = _show, _frame
'''


def figure_problems(root: Path, chapter: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Execute ``chapter`` (in a scratch folder; ``book/`` is untouched) with every figure it shows and every slider
    frame checked by :func:`lsgan_lib.plots.text_layout_problems` as it is drawn. Returns one record per figure:
    where (figure or slider frame), title, size in inches, problems; and a last record with ``where="error"`` if the
    chapter stopped on an error."""
    import nbformat
    import papermill

    notebook = nbformat.read(root / "notebooks" / f"{chapter}.ipynb", as_version=4)
    scratch = scratch_folder("lsgan-figures-")
    try:
        report = scratch / "figures.jsonl"
        report.touch()
        where = next((i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])), -1)
        notebook.cells.insert(where + 1, nbformat.v4.new_code_cell(_FIGURE_HOOK.format(path=str(report))))
        try:
            papermill.execute_notebook(notebook, str(Path(scratch) / f"{chapter}.ipynb"), parameters=parameters,
                                       cwd=str(root), kernel_name="python3", progress_bar=False, log_output=False,
                                       **kernel_settings(scratch))
        except papermill.PapermillExecutionError as error:  # the figures drawn before the error are still listed
            failed = {"where": "error", "title": f"{error.ename}: {error.evalue}", "size": [0, 0],
                      "problems": [f"the chapter stopped: {error.ename}: {error.evalue}"]}
            return [json.loads(line) for line in report.read_text().splitlines() if line.strip()] + [failed]
        return [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def command_figures(args) -> int:
    """``lsgan-book figures [CHAPTER ...] [--profile P]``: print every figure whose text does not read."""
    from .parameters import chapters, project_root, resolve_parameters

    root = project_root()
    selected = args.chapters or chapters(root)
    status = 0
    for chapter in selected:
        records = figure_problems(root, chapter, resolve_parameters(root, chapter, args.profile, []))
        bad = [r for r in records if r["problems"]]
        print(f"{chapter}: {len(records)} figures and frames, {len(bad)} with text that does not read", flush=True)
        for r in bad:
            status = 1
            print(f"  {r['where']} {r['size'][0]}×{r['size'][1]} in, {r['title'][:70]!r}:")
            for problem in r["problems"][:8]:
                print(f"    {problem}")
            if len(r["problems"]) > 8:
                print(f"    … and {len(r['problems']) - 8} more")
    return status


def add_figures_command(sub) -> None:
    figures = sub.add_parser("figures", help="execute chapters (into a scratch folder) and list every figure whose "
                             "text overlaps, is cut off or is too small on the page")
    figures.add_argument("chapters", nargs="*", help="chapter names (default: all)")
    figures.add_argument("--profile", default="smoke", help="the profile to execute at (default: smoke)")
    figures.set_defaults(func=command_figures)


# ---------------------------------------------------------------------------------------------------------------------
# Progress widgets left in an executed chapter
# ---------------------------------------------------------------------------------------------------------------------

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}
_ELAPSED = re.compile(r"\[(\d+:\d\d(?::\d\d)?)<")


def _model_ids(value: Any) -> list[str]:
    """The ids of the widget models a model's state refers to (``"IPY_MODEL_<id>"`` strings, also inside lists)."""
    values = value if isinstance(value, list) else [value]
    return [v[len("IPY_MODEL_"):] for v in values if isinstance(v, str) and v.startswith("IPY_MODEL_")]


def plain_progress_outputs(notebook) -> int:
    """Replace every tqdm progress widget in an executed notebook by one line of text saying what it counted —
    ``"<what>: 1,500 of 1,500 iterations in 02:03"`` — and drop its models from the notebook's widget state, so the
    published page shows no frozen bar. Works on the notebook as a dict (``nbformat`` nodes are dicts). Other widgets
    (the chapters' sliders) are left as they are. Returns the number of bars replaced."""
    state = notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    dropped: set[str] = set()
    replaced = 0
    for cell in notebook.get("cells", []):
        outputs = cell.get("outputs", [])
        for i, output in enumerate(outputs):
            view = output.get("data", {}).get(WIDGET_VIEW)
            box = state.get(view.get("model_id", "")) if view else None
            if box is None:
                continue
            children = [(c, state.get(c, {})) for c in _model_ids(box.get("state", {}).get("children", []))]
            bars = [m["state"] for _, m in children if m.get("model_name") in PROGRESS_MODELS]
            if not bars:
                continue
            texts = [html.unescape(m["state"].get("value", "")).replace("\u2007", " ")  # tqdm pads with figure spaces
                     for _, m in children if m.get("model_name") == "HTMLModel"]
            what = re.sub(r"<[^>]+>|:?\s*\d+%\s*$", "", texts[0]).strip() if texts else "progress"
            elapsed = _ELAPSED.search(texts[-1]) if texts else None
            done, total = int(bars[0].get("value", 0)), int(bars[0].get("max", 0))
            line = f"{what}: {done:,} of {total:,} iterations ran" + (
                f" in {elapsed.group(1)}" if elapsed and done else "")
            outputs[i] = {"output_type": "stream", "name": "stdout", "text": line + "\n"}
            replaced += 1
            for model_id, model in [(view["model_id"], box), *children]:
                dropped.add(model_id)
                for key in ("layout", "style"):
                    dropped.update(_model_ids(model.get("state", {}).get(key)))
    for model_id in dropped:
        state.pop(model_id, None)
    return replaced


def glue_values(prefix: str, **values: Any) -> None:
    """Glue each value as ``{prefix}_{name}`` (hidden) so the chapter's prose shows the value it ran with —
    ``{glue:text}`ls_near``` in a markdown cell — rather than the parameter's name. Call it once in a code cell;
    jupyter-book resolves the roles anywhere on the page."""
    from myst_nb import glue

    if not re.fullmatch(r"[A-Za-z]\w*", prefix):
        raise ValueError(f"glue_values: the prefix must be an identifier, got {prefix!r}")
    for name, value in values.items():
        glue(f"{prefix}_{name}", value, display=False)
