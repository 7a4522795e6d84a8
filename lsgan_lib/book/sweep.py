"""Sweeps and cluster runs on Dask distributed: ``lsgan-book sweep`` and training fanned out to a cluster.

``lsgan-book sweep CHAPTER --profile P --grid seed=[0,1,2] --grid n_iter=[500,1000] [-p name=value ...]`` executes
the chapter once per point of the grids' cartesian product (on top of the profile and the overrides) with papermill,
into ``sweeps/<chapter>/<sweep name>/<point>.ipynb``, and writes there

* ``claims.csv`` — one row per point × claim: the swept values, the claim, its kind, value, verdict and gates;
* ``report.md`` and ``stability.png`` — the **verdict-stability report**: for each claim, the share of points at each
  verdict, and a map of the verdict against the swept parameters (``lsgan-book build --sweep CHAPTER/NAME`` makes it
  a page of the book).

Every point is validated against the chapter's parameters cell before anything starts (exit 2 naming the point and
the parameter). A point whose notebook exists with the same profile and parameters and no error is skipped, so a
rerun resumes an interrupted sweep (``--force`` re-executes). Executors: ``--workers N`` starts an embedded
``LocalCluster`` (processes, one thread each; the default, N = the machine's cores), ``--scheduler ADDRESS`` uses a
running Dask cluster (``dask scheduler`` + ``dask worker``, or ``dask_jobqueue``), ``--scheduler none`` runs the points
one after another in this process. Each point's kernel runs torch with ``--threads`` threads (default: its worker's
thread count; all cores when serial). The workers return the executed notebooks and this process alone writes them
(atomically), so nothing is half-written when a worker dies; Dask reschedules the point on another worker.

**Training fan-out.** When a kernel has ``LSGAN_SCHEDULER`` in its environment (``lsgan-book run --scheduler
ADDRESS`` sets it), :func:`lsgan_lib.train.batched.train_sweep` submits its shape groups to that cluster as tasks: the
workers train and return the payloads, and the kernel alone writes them to the results cache (one writer: no races on
shared storage). A group trained on a worker equals the group trained in the kernel bit for bit when both run torch
with the same number of threads: CPU matrix products round differently with another thread count (measured on the FC
net: 0.017 in a loss after 30 iterations), and the worker uses its own thread count. Like batching, the thread count is
not part of the cache key. A sweep's points do not fan out their training (a point waiting for tasks on the cluster
whose worker it occupies could wait forever): ``LSGAN_SCHEDULER`` is removed from kernels that run on workers.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from ..files import write_atomically
from ..measure.claims import VERDICTS
from ..train.cluster import MALLOC_ENV, SCHEDULER_ENV, THREAD_ENV, SchedulerUnreachable, _in_worker, open_client
from .overview import chapter_claims, md_cell
from .parameters import (ParameterError, chapters, check_profile_chapters, default_profile, notebook_parameters,
                         parse_overrides, project_root, resolve_parameters, validate)
from .provenance import git_commit
from .publishing import remove_stale_scratch, scratch_folder
from .runner import run_chapter

SWEEPS_DIR = "sweeps"


# ---------------------------------------------------------------------------------------------------------------------
# The grid and its points
# ---------------------------------------------------------------------------------------------------------------------


def parse_grids(pairs: list[str]) -> dict[str, list]:
    """``["seed=[0, 1]", "lr=[1e-4, 1e-3]"]`` → ``{"seed": [0, 1], "lr": [0.0001, 0.001]}`` (values read as YAML).
    A grid names a parameter once and gives a non-empty list of distinct values."""
    grids: dict[str, list] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"--grid takes name=[v1, v2, ...], got {pair!r}")
        name, raw = (part.strip() for part in pair.split("=", 1))
        try:
            values = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            raise ParameterError(f"--grid {name}: cannot read {raw!r}: {error}") from None
        if not isinstance(values, list) or not values:
            raise ParameterError(f"--grid {name}: {raw!r} is not a non-empty list; write {name}=[v1, v2, ...]")
        if name in grids:
            raise ParameterError(f"--grid {name} is given twice")
        texts = [json.dumps(v, sort_keys=True) for v in values]
        repeated = [v for i, v in enumerate(values) if texts[i] in texts[:i]]
        if repeated:
            raise ParameterError(f"--grid {name}: {raw!r} repeats the value {repeated[0]!r}; give each value once")
        grids[name] = values
    return grids


def _format_value(value: Any) -> str:
    if isinstance(value, list):
        return "-".join(_format_value(v) for v in value)
    text = format(value, "g") if isinstance(value, float) else str(value)
    return re.sub(r"[^A-Za-z0-9._+-]", "-", text)


def point_name(values: dict[str, Any]) -> str:
    """A readable, stable file name for a point: ``seed=3__n_iter=500`` (in the order the grids were given)."""
    return "__".join(f"{name}={_format_value(value)}" for name, value in values.items())


@dataclass(frozen=True)
class Point:
    """One execution of a sweep: its grid values and all the chapter's parameters (defaults, profile, ``-p``, grid)."""

    name: str
    values: dict[str, Any]
    parameters: dict[str, Any]


def plan_points(root: Path, chapter: str, profile: str, overrides: list[tuple[str | None, str, Any]],
                grids: dict[str, list]) -> list[Point]:
    """Every point of the grids' cartesian product, validated; a bad value raises :class:`ParameterError`
    naming the point and the parameter."""
    if chapter not in chapters(root):
        raise ParameterError(f"unknown chapter {chapter!r}; chapters: {', '.join(chapters(root))}")
    targets = {target for target, _, _ in overrides if target is not None} - {chapter}
    if targets:
        raise ParameterError(f"-p names chapter(s) not being swept: {', '.join(sorted(targets))}")
    declared = notebook_parameters(root / "notebooks" / f"{chapter}.ipynb")
    points, names = [], set()
    for combination in itertools.product(*grids.values()):
        values = dict(zip(grids, combination))
        name = point_name(values)
        try:
            for key, value in values.items():
                if key not in declared:
                    raise ParameterError(f"unknown parameter {key!r} for chapter {chapter} (--grid); "
                                              f"known: {', '.join(declared)}")
                validate(declared[key], value, "--grid")
            parameters = resolve_parameters(root, chapter, profile,
                                                 overrides + [(None, k, v) for k, v in values.items()])
        except ParameterError as error:
            raise ParameterError(f"point {name}: {error}") from None
        if name in names:
            raise ParameterError(f"two points share the file name {name!r}; give values that differ as text")
        names.add(name)
        points.append(Point(name, values, parameters))
    return points


def _same_parameters(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def completed(path: Path, profile: str, parameters: dict[str, Any]) -> bool:
    """Whether ``path`` is an executed point with this profile and these parameters and no error output."""
    if not path.is_file():
        return False
    try:
        notebook = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    info = notebook.get("metadata", {}).get("lsgan", {})
    errors = any(output.get("output_type") == "error" for cell in notebook.get("cells", [])
                 for output in cell.get("outputs", []))
    return info.get("profile") == profile and _same_parameters(info.get("parameters", {}), parameters) and not errors


# ---------------------------------------------------------------------------------------------------------------------
# Executing a point
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class PointResult:
    """What a point's execution returns to the client: the executed notebook as text (``None`` when papermill could
    not produce one), whether it ran without error, and the failing cell and error when not."""

    name: str
    ok: bool
    seconds: float
    message: str = ""
    notebook: str | None = None


@contextlib.contextmanager
def _kernel_environment(threads: int | None, fan_out: bool) -> Iterator[None]:
    """The environment the point's kernel inherits: torch threads, no :data:`MALLOC_ENV`, and ``LSGAN_SCHEDULER``
    removed unless ``fan_out``.
    Restored afterwards (a worker runs one point per thread; every point of a sweep sets the same values)."""
    saved = {name: os.environ.get(name) for name in (*THREAD_ENV, SCHEDULER_ENV, MALLOC_ENV)}
    try:
        os.environ.pop(MALLOC_ENV, None)
        if threads is not None:
            for name in THREAD_ENV:
                os.environ[name] = str(threads)
        if not fan_out:
            os.environ.pop(SCHEDULER_ENV, None)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _checkout_problem(root: Path, chapter: str, commit: str) -> str | None:
    """Why a worker cannot execute the sweep's chapter (the project missing at ``root``, or at another commit)."""
    import socket

    if not (root / "notebooks" / f"{chapter}.ipynb").is_file():
        return (f"{root / 'notebooks' / (chapter + '.ipynb')} does not exist on {socket.gethostname()}: install the "
                f"same commit at the same path on every machine of the cluster")
    if git_commit(root) != commit:
        return (f"{root} on {socket.gethostname()} is at commit {git_commit(root)}, the sweep at {commit}: check "
                f"out the same commit on every machine of the cluster")
    return None


def execute_point(root: Path, chapter: str, profile: str, point: Point, commit: str, threads: int | None
                  ) -> PointResult:
    """Execute one point with papermill (as ``lsgan-book run`` does, with its provenance) in a scratch folder and
    return the executed notebook. On a Dask worker, ``threads`` ``None`` means the worker's thread count."""
    in_worker = _in_worker()
    problem = _checkout_problem(root, chapter, commit) if in_worker else None
    if problem:
        return PointResult(point.name, False, 0.0, problem)
    if in_worker and threads is None:
        from distributed import get_worker

        threads = max(1, get_worker().state.nthreads)
    scratch = scratch_folder("lsgan-sweep-")
    try:
        with _kernel_environment(threads, fan_out=not in_worker):
            result = run_chapter(root, chapter, profile, point.parameters, scratch, commit, failed_dir=scratch)
        text = result.output.read_text() if result.output is not None and result.output.is_file() else None
        return PointResult(point.name, result.ok, result.seconds, result.message, text)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------------------------------------------------


def _dashboard(client, local: bool) -> str | None:
    """The dashboard's address; ``None`` when there is none (an embedded cluster serves it only where ``bokeh`` is
    installed: ``pip install bokeh``)."""
    if local:
        try:
            import bokeh  # noqa: F401
        except ImportError:
            return None
    return client.dashboard_link if "dashboard" in client.scheduler_info().get("services", {}) else None


def run_points(root: Path, chapter: str, profile: str, points: list[Point], sweep_dir: Path, client,
               threads: int | None, progress: bool = True) -> list[PointResult]:
    """Execute the points (on ``client``'s workers, or here when it is ``None``), writing each executed notebook to
    ``sweep_dir/<point>.ipynb`` as it arrives, or ``<point>.failed.ipynb`` when it raised. A failing point is reported
    with its cell and error and the others go on."""
    from tqdm.auto import tqdm

    commit = git_commit(root)
    results = []
    bar = tqdm(total=len(points), desc=f"sweep {chapter}", unit="point", disable=not progress)

    def record(result: PointResult) -> None:
        target = sweep_dir / f"{result.name}.ipynb"
        failed = sweep_dir / f"{result.name}.failed.ipynb"
        if result.ok:
            write_atomically(target, result.notebook)
            failed.unlink(missing_ok=True)
        else:
            target.unlink(missing_ok=True)  # a stale success with other parameters must not be read as this point
            if result.notebook is not None:
                write_atomically(failed, result.notebook)
            tqdm.write(f"  {result.name}: FAILED {result.message}", file=sys.stderr)
        results.append(result)
        bar.update(1)

    try:
        if client is None:
            for point in points:
                record(execute_point(root, chapter, profile, point, commit, threads))
            return results
        from distributed import as_completed

        futures = {client.submit(execute_point, root, chapter, profile, point, commit, threads, pure=False,
                                 key=f"sweep-{chapter}-{point.name}-{time.time_ns()}"): point for point in points}
        for future in as_completed(futures):
            point = futures[future]
            try:
                record(future.result())
            except Exception as error:  # e.g. KilledWorker: the point killed every worker it was given
                record(PointResult(point.name, False, 0.0, f"the task failed on the cluster: {type(error).__name__}: "
                                                            f"{error}"))
        return results
    finally:
        bar.close()


# ---------------------------------------------------------------------------------------------------------------------
# What a sweep produces: claims.csv and the verdict-stability report
# ---------------------------------------------------------------------------------------------------------------------


def claim_rows(sweep_dir: Path, points: list[Point]) -> list[dict[str, Any]]:
    """One row per executed point × claim: the point, its swept values, the commit it was executed at, and the claim's
    paper, text, kind, measurement, value, verdict, reason and gates (``name: value (needs ≥ t) — passed; ...``)."""
    rows = []
    for point in points:
        path = sweep_dir / f"{point.name}.ipynb"
        if not path.is_file():
            continue
        commit = json.loads(path.read_text()).get("metadata", {}).get("lsgan", {}).get("commit", "?")
        for claim in chapter_claims(path):
            rows.append({"point": point.name, **point.values, "commit": commit, "paper": claim["paper"],
                         "claim": claim["claim"],
                         "kind": claim["kind"], "measurement": claim["measurement"], "value": claim["value"],
                         "verdict": claim["verdict"], "reason": claim["reason"],
                         "gates": "; ".join(g["text"] for g in claim["gates"]),
                         "profile": claim["profile"], "device": claim["device"]})
    return rows


def write_claims_csv(path: Path, rows: list[dict[str, Any]], grid_names: list[str]) -> None:
    columns = ["point", *grid_names, "commit", "paper", "claim", "kind", "measurement", "value", "verdict", "reason",
               "gates", "profile", "device"]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, columns)
    writer.writeheader()
    writer.writerows({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in row.items()} for row in rows)
    write_atomically(path, text.getvalue())


def verdict_shares(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    """For each claim (paper, claim text), the share of its points at each verdict of :data:`VERDICTS`."""
    by_claim: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        by_claim.setdefault((row["paper"], row["claim"]), []).append(row["verdict"])
    return {claim: {v: verdicts.count(v) / len(verdicts) for v in VERDICTS} for claim, verdicts in by_claim.items()}


def stability_report(chapter: str, name: str, manifest: dict[str, Any], points: list[Point],
                     rows: list[dict[str, Any]], failed: list[PointResult], figure: str | None) -> str:
    """The verdict-stability report as MyST Markdown."""
    grids = ", ".join(f"`{k}` ∈ {v}" for k, v in manifest["grids"].items())
    overrides = ", ".join(f"`{o}`" for o in manifest["overrides"]) or "none"
    executed = sorted({r["point"] for r in rows})
    commits = ", ".join(f"`{c}`" for c in sorted({r["commit"] for r in rows})) or "–"
    lines = [f"# Verdict stability: {chapter}, sweep `{name}`", "",
             f"The `{chapter}` chapter executed at {len(points)} points — {grids} — at the `{manifest['profile']}` "
             f"profile (overrides: {overrides}), commit {commits}, devices: "
             f"{', '.join(sorted({r['device'] for r in rows})) or 'none'}. Made by `lsgan-book sweep`; each point's "
             f"executed notebook and every claim's value and gates are in `claims.csv` beside this report.", ""]
    if failed:
        lines += [f"**{len(failed)} of {len(points)} points failed** and are not counted below:", ""]
        lines += [f"- `{r.name}`: {md_cell(r.message)}" for r in failed] + [""]
    shares = verdict_shares(rows)
    lines += [f"Share of the {len(executed)} executed points at each verdict, per claim:", "",
              "| # | paper | claim | kind | " + " | ".join(VERDICTS) + " |",
              "| ---: | --- | --- | --- |" + " ---: |" * len(VERDICTS)]
    kinds = {(r["paper"], r["claim"]): r["kind"] for r in rows}
    for number, ((paper, claim), share) in enumerate(shares.items(), 1):
        lines.append(f"| {number} | {md_cell(paper)} | {md_cell(claim)} | {kinds[paper, claim]} | "
                     + " | ".join(f"{share[v]:.0%}" if share[v] else "–" for v in VERDICTS) + " |")
    if figure:
        lines += ["", f"![The verdict of each claim (numbered as above) at each point of the sweep]({figure})"]
    return "\n".join(lines) + "\n"


def write_report(root: Path, chapter: str, name: str, sweep_dir: Path, manifest: dict[str, Any],
                 points: list[Point], failed: list[PointResult]) -> list[dict[str, Any]]:
    """Write ``claims.csv``, ``stability.png`` and ``report.md`` into ``sweep_dir``; return the claim rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import verdict_map

    rows = claim_rows(sweep_dir, points)
    write_claims_csv(sweep_dir / "claims.csv", rows, list(manifest["grids"]))
    figure = None
    if rows:
        fig = verdict_map(rows, [p.name for p in points], title=f"{chapter}: verdicts over the sweep "
                                                                 f"({manifest['profile']} profile)")
        write_atomically(sweep_dir / "stability.png", lambda handle: fig.savefig(handle, format="png",
                                                                                 bbox_inches="tight"))
        plt.close(fig)
        figure = "stability.png"
    write_atomically(sweep_dir / "report.md", stability_report(chapter, name, manifest, points, rows, failed, figure))
    return rows


# ---------------------------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------------------------


def default_sweep_name(profile: str, grids: dict[str, list]) -> str:
    return "_".join([profile, *grids])


def command_sweep(args) -> int:
    root = project_root()
    profile = args.profile or default_profile()
    grids = parse_grids(args.grid or [])
    if not grids:
        raise ParameterError("sweep needs at least one --grid name=[v1, v2, ...]")
    check_profile_chapters(root, profile, [args.chapter], args.allow_defaults)
    overrides = parse_overrides(args.parameter or [])
    points = plan_points(root, args.chapter, profile, overrides, grids)  # validate every point before anything starts
    if args.workers is not None and args.workers < 1:
        raise ParameterError(f"--workers must be >= 1, got {args.workers}")
    if args.threads is not None and args.threads < 1:
        raise ParameterError(f"--threads must be >= 1, got {args.threads}")
    name = args.name or default_sweep_name(profile, grids)
    remove_stale_scratch()  # what killed sweeps left in the temporary folder
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ParameterError(f"--name {name!r}: use letters, digits, '.', '_' and '-'")
    sweep_dir = Path(args.output_dir) if args.output_dir else root / SWEEPS_DIR / args.chapter / name
    todo = [p for p in points if args.force or not completed(sweep_dir / f"{p.name}.ipynb", profile, p.parameters)]
    manifest = {"chapter": args.chapter, "profile": profile, "grids": grids, "overrides": args.parameter or [],
                "commit": git_commit(root), "points": [p.name for p in points]}
    print(f"lsgan-book: sweep {args.chapter} at profile {profile}: {len(points)} point(s), {len(points) - len(todo)} "
          f"already done, into {sweep_dir}", flush=True)
    results: list[PointResult] = []
    if todo:
        scheduler = args.scheduler
        workers = args.workers or min(len(todo), os.cpu_count() or 1)
        threads = args.threads  # None: serial → torch's default (all cores); a worker → its thread count
        if scheduler is None and threads is None:
            threads = max(1, (os.cpu_count() or 1) // workers)
        with contextlib.ExitStack() as stack:
            try:
                client = stack.enter_context(open_client(workers, scheduler))
            except SchedulerUnreachable as error:
                print(f"lsgan-book: {error}", file=sys.stderr)
                return 1
            if client is not None:
                where = "an embedded LocalCluster" if scheduler is None else scheduler
                dashboard = _dashboard(client, local=scheduler is None)
                print(f"lsgan-book: {len(client.scheduler_info()['workers'])} Dask worker(s) on {where}"
                      + (f"; dashboard: {dashboard}" if dashboard else ""), flush=True)
            results = run_points(root, args.chapter, profile, todo, sweep_dir, client, threads)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    failed = [r for r in results if not r.ok]
    write_atomically(sweep_dir / "sweep.json", json.dumps(manifest, indent=1) + "\n")
    rows = write_report(root, args.chapter, name, sweep_dir, manifest, points, failed)
    print(f"lsgan-book: {len(rows)} claim row(s) in {sweep_dir / 'claims.csv'}; report: {sweep_dir / 'report.md'}")
    if failed:
        print(f"lsgan-book: {len(failed)} point(s) failed: {', '.join(r.name for r in failed)}", file=sys.stderr)
        return 1
    return 0


def add_parser(sub) -> None:
    """Register ``sweep`` on ``lsgan-book``'s subcommands."""
    sweep = sub.add_parser("sweep", help="execute a chapter over a parameter grid (Dask) and report verdict stability")
    sweep.add_argument("chapter", help="the chapter to sweep")
    sweep.add_argument("--profile", help="smoke, quick, cpu, gpu or paper (default: gpu with CUDA, else cpu)")
    sweep.add_argument("--grid", action="append", metavar="NAME=[V1, V2, ...]",
                       help="a parameter and its values; several grids make their cartesian product")
    sweep.add_argument("-p", "--parameter", action="append", metavar="NAME=VALUE", help="override a parameter")
    sweep.add_argument("--name", help="the sweep's name (default: the profile and the grids' names)")
    sweep.add_argument("--output-dir", help="where the points go (default: sweeps/<chapter>/<name>)")
    sweep.add_argument("--workers", type=int, help="worker processes of the embedded LocalCluster (default: cores)")
    sweep.add_argument("--scheduler", help="a running Dask scheduler's address, or 'none' to run serially here")
    sweep.add_argument("--threads", type=int,
                       help="torch threads per point (default: the worker's threads; all cores when serial)")
    sweep.add_argument("--force", action="store_true", help="re-execute points that are already done")
    sweep.add_argument("--allow-defaults", action="store_true", help="run even though the profile has no entry for "
                       "the chapter (it then runs at the notebook's defaults)")
    sweep.set_defaults(func=command_sweep)


# ---------------------------------------------------------------------------------------------------------------------
# A sweep's report as a page of the book
# ---------------------------------------------------------------------------------------------------------------------


def stage_book_pages(root: Path, specs: list[str], project: Path | None = None) -> Path:
    """Copy each sweep's report (``CHAPTER/NAME``, read from ``project/sweeps/``, default ``root``) into
    ``root/book/sweeps/`` and write ``root/_build/_toc_sweeps.yml``: the book's table of contents with a "Sweeps" part
    listing them. Returns the table of contents to build with. The pages
    are staged for one build (:func:`unstage_book_pages` removes them: a page left there without its entry in the
    table of contents would be a warning, so an error, in the next build)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = []
    for spec in specs:
        chapter, _, name = spec.partition("/")
        source = (project or root) / SWEEPS_DIR / chapter / name
        if not name or not (source / "report.md").is_file():
            raise FileNotFoundError(f"--sweep {spec}: no report at {source / 'report.md'}. Fix: run `lsgan-book sweep "
                                    f"{chapter or 'CHAPTER'} ... --name {name or 'NAME'}` first")
        page = root / "book" / "sweeps" / f"{chapter}-{name}"
        page.parent.mkdir(parents=True, exist_ok=True)
        text = (source / "report.md").read_text()
        if (source / "stability.png").is_file():
            shutil.copy2(source / "stability.png", page.parent / f"{chapter}-{name}.png")
            text = text.replace("(stability.png)", f"({chapter}-{name}.png)")
        write_atomically(page.with_suffix(".md"), text)
        files.append({"file": f"book/sweeps/{chapter}-{name}"})
    toc.setdefault("parts", []).append({"caption": "Sweeps", "chapters": files})
    path = root / "_build" / "_toc_sweeps.yml"
    write_atomically(path, yaml.safe_dump(toc, sort_keys=False))
    return path


def unstage_book_pages(root: Path) -> None:
    """Remove the pages :func:`stage_book_pages` staged."""
    shutil.rmtree(root / "book" / "sweeps", ignore_errors=True)
