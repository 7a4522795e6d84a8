"""Running chapters with papermill: ``lsgan-book run`` (scratch folders, interruption, failed chapters kept, the
results record) and :func:`run_chapter`, which sweeps use too."""


from __future__ import annotations

import copy
import datetime as _dt
import os
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import WriteFailed, write_atomically
from ..train.cluster import SCHEDULER_ENV
from .parameters import (EXIT_INTERRUPTED, ParameterError, chapters, check_profile_chapters, default_profile,
                         parse_overrides, profile_label, project_root, resolve_parameters)
from .provenance import finalise, git_commit, provenance_cell
from .publishing import default_output_dir, kernel_settings, remove_stale_scratch, scratch_folder

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

    source = "from lsgan_lib.book.runner import show_results_record\nshow_results_record()"
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell", "lsgan-results"]})


def show_results_record() -> None:
    """Called by the cell the runner puts last in every executed chapter: shows (as output metadata) how many
    results-cache entries the kernel computed and loaded, and their content hash. The runner moves it into the
    provenance table and drops the cell."""
    from IPython.display import display

    from ..cache import ledger

    display({"text/plain": "<results record>"}, raw=True, metadata={"lsgan_results": ledger()})


def run_chapter(root: Path, chapter: str, profile: str, parameters: dict[str, Any], output_dir: Path,
                commit: str, stop: Interruption | None = None, results: str | None = None,
                failed_dir: Path | None = None) -> ChapterResult:
    """Execute one chapter with papermill's Python API into ``output_dir/<chapter>.ipynb``.

    A chapter that fails, or whose kernel dies, is written to ``failed_dir/<chapter>.ipynb`` (default
    ``_build/failed/``; the executed book copy is left untouched) and reported with its cell and error. When ``stop`` is
    set (Ctrl-C) the kernel is interrupted, nothing is kept but the results cache, and the result says ``interrupted``.
    ``results`` describes the results cache for the provenance.
    """
    import nbformat

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
    source.cells.insert(1 if title_first else 0, provenance_cell(info))  # first, after the chapter's title
    source.cells.append(_results_cell())
    output_dir.mkdir(parents=True, exist_ok=True)
    scratch = scratch_folder("lsgan-run-") / f"{chapter}.ipynb"
    try:
        return _execute(root, chapter, source, parameters, output_dir, scratch, stop, started, failed_dir)
    finally:  # every exit: success, a failed chapter, Ctrl-C, a write that failed
        shutil.rmtree(scratch.parent, ignore_errors=True)


def _execute(root: Path, chapter: str, source, parameters: dict[str, Any], output_dir: Path, scratch: Path,
             stop: Interruption, started: float, failed_dir: Path | None) -> ChapterResult:
    """:func:`run_chapter`'s execution of the prepared ``source`` into ``scratch``, then into ``output_dir``."""
    import nbformat
    import papermill
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    # IPC sockets in the scratch folder, summary progress
    manager = AsyncKernelManager(kernel_name="python3", **kernel_settings(scratch.parent))
    stop.register(chapter, manager)
    try:
        papermill.execute_notebook(copy.deepcopy(source), str(scratch), parameters=parameters, cwd=str(root),
                                   kernel_name="python3", progress_bar=False, log_output=False, km=manager)
    except Exception as error:  # noqa: BLE001 - a cell error, a dead kernel, or a kernel that never started
        seconds = time.perf_counter() - started
        if stop.requested:
            partial = nbformat.read(scratch, as_version=4) if scratch.is_file() else None
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
    finalise(executed, seconds)
    target = output_dir / f"{chapter}.ipynb"
    try:
        write_atomically(target, nbformat.writes(executed))
    except WriteFailed as error:  # the executed copy there before stays as it was
        return ChapterResult(chapter, False, seconds, None, f"executed, but not published: {error}",
                             warnings=cache_warnings(executed))
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
    from .. import cache

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
    from .. import cache

    root = project_root()
    known = chapters(root)
    selected = args.chapters or known
    unknown = [c for c in selected if c not in known]
    if unknown:
        raise ParameterError(f"unknown chapter(s) {', '.join(unknown)}; chapters: {', '.join(known)}")
    if args.profile and args.profile_file:
        raise ParameterError("give --profile or --profile-file, not both")
    profile = Path(args.profile_file) if args.profile_file else (args.profile or default_profile())
    check_profile_chapters(root, profile, selected, getattr(args, "allow_defaults", False))
    overrides = parse_overrides(args.parameter or [])
    targets = {target for target, _, _ in overrides if target is not None}
    if targets - set(selected):
        raise ParameterError(f"-p names chapter(s) not being run: {', '.join(sorted(targets - set(selected)))}")
    # validate every chapter's parameters before any starts
    plan = {chapter: resolve_parameters(root, chapter, profile, overrides) for chapter in selected}
    output_dir = Path(args.output_dir) if args.output_dir else default_output_dir(root, profile)
    _prepare_output_dir(output_dir)
    commit = git_commit(root)
    remove_stale_scratch()  # what killed runs left in the temporary folder
    if args.scheduler:  # the kernels fan train_sweep's groups out to this Dask cluster (lsgan_lib.train.cluster)
        os.environ[SCHEDULER_ENV] = args.scheduler
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
