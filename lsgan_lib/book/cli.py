"""The ``lsgan-book`` command: run chapters with papermill, build the book, list what there is.

    lsgan-book run [CHAPTER ...] [--profile P | --profile-file PATH] [-p name=value ...] [-p chapter.name=value ...]
                   [--output-dir DIR] [--fresh] [--scheduler ADDRESS] [--allow-defaults]
    lsgan-book build [--chapters DIR] [--sweep CHAPTER/NAME ...]
    lsgan-book serve [--dir HTML] [--port N]
    lsgan-book data [mnist|cifar10|celeba|all ...] [--to DIR] [--celeba-from PATH] [--if-missing]
    lsgan-book figures [CHAPTER ...] [--profile P]
    lsgan-book sweep CHAPTER --profile P --grid name=[v1, v2] [--grid ...] [-p name=value ...]  (lsgan_lib.book.sweep)
    lsgan-book list

``run`` writes ``book/`` only at the publishing profiles (cpu, gpu, paper); smoke, quick and a ``--profile-file`` go
to ``_build/runs/<profile>/`` (:mod:`lsgan_lib.book.publishing`).

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
output before it writes anything. Every published or cached file is written whole or not at all
(:func:`lsgan_lib.files.write_atomically`): a full disk leaves the old file and says so in one line (exit 1). Seeds
lists must not repeat a seed, and a profile file must name only chapters and, unless ``--allow-defaults``, every
chapter being run (exit 2).
"""


from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..files import WriteFailed
from . import sweep
from .build import command_build
from .parameters import (EXIT_BAD_PARAMETERS, EXIT_INTERRUPTED, ParameterError, chapters, load_profile,
                         notebook_parameters, profiles, project_root)
from .publishing import MachinePaths
from .runner import command_run


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

    if not 0 <= args.port <= 65535:
        raise ParameterError(f"--port {args.port} is not a port number: give one in [0, 65535] (0 picks a free one)")
    try:
        serve(Path(args.dir) if args.dir else project_root() / "_build" / "html", args.port)
    except FileNotFoundError:  # the book is not built: main names the fix
        raise
    except OSError as error:  # the port is in use, or privileged
        print(f"lsgan-book: cannot serve on port {args.port}: {error.strerror or error}. Fix: choose another port with "
              "--port N (--port 0 picks a free one)", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="lsgan-book", description="Run and build the Geometric GANs book.")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute chapters with papermill into book/")
    run.add_argument("chapters", nargs="*", help="chapter names (default: all)")
    run.add_argument("--profile", help="a profile of notebooks/profiles/: smoke, quick, cpu, gpu or paper "
                     "(default: gpu with CUDA, else cpu)")
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
    run.add_argument("--allow-defaults", action="store_true", help="run chapters the profile has no entry for at the "
                     "notebook's defaults (otherwise refused: the defaults are the full-scale settings)")
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
    from ..data.download import add_data_command
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
    except (FileNotFoundError, MachinePaths, WriteFailed) as error:  # e.g. the widget JavaScript is not installed, a
        # full disk: the message names the fix
        print(f"lsgan-book: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
