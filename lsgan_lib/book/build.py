"""``lsgan-book build``: the static assets the book ships, the checks on executed chapters, jupyter-book."""


from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ..files import write_atomically
from . import sweep
from .overview import OutdatedClaims, claims_overview, claims_totals, executed_chapter_problems, with_totals
from .parameters import chapters, project_root
from .publishing import check_portable, serve_command

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
    sliders, progress bars and equations render without internet. ``node_modules`` is looked for in ``search`` (default:
    ``root``, then the project holding this package).
    """
    candidates = search or [root / "node_modules", Path(__file__).resolve().parents[2] / "node_modules"]
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
    shutil.copy2(Path(__file__).resolve().parents[2] / "book_assets" / "widgets-config.js", target)
    return target



def _refused(problems: list[str]) -> bool:
    """Print one line per executed chapter that cannot be published; whether there was any."""
    for line in problems:
        print(f"lsgan-book: cannot build: {line}", file=sys.stderr)
    return bool(problems)


def command_build(args) -> int:
    root = project = Path(args.root).resolve() if args.root else project_root()
    if getattr(args, "chapters", None):  # a book of chapters executed outside book/ (smoke, quick), built apart
        from .publishing import stage_site

        if _refused(executed_chapter_problems(root, Path(args.chapters))):  # named where they are, not as staged
            return 1
        root = stage_site(root, Path(args.chapters))
    if _refused(executed_chapter_problems(root, root / "book")):  # before anything is written: claims.md stays
        return 1
    check_portable(root / "book", chapters(root), project=project)
    stage_widget_assets(root)
    try:
        text = claims_overview(root, root / "book")
        intro = with_totals((root / "book" / "intro.md").read_text(), claims_totals(root, root / "book"))
    except (OutdatedClaims, ValueError) as error:
        print(f"lsgan-book: {error}", file=sys.stderr)
        return 1
    write_atomically(root / "book" / "claims.md", text)  # a full disk leaves the committed pages as they were
    write_atomically(root / "book" / "intro.md", intro)
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
