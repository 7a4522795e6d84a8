"""Every chapter through papermill at the smoke profile, then the book through jupyter-book: the real pipeline."""

import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
import yaml

from lsgan_lib.book import parameters as profile_params

from .conftest import ROOT


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        shutil.copy(ROOT / name, site / name)
    for folder in ("notebooks", "book_assets"):
        shutil.copytree(ROOT / folder, site / folder)
    (site / "book").mkdir()
    for page in (ROOT / "book").glob("*.md"):
        shutil.copy(page, site / "book" / page.name)
    env = os.environ | {"LSGAN_RESULTS": str(site / "results")}
    run = subprocess.run([sys.executable, "-m", "lsgan_lib", "run", "--profile", "smoke", "--output-dir", "book"],
                         cwd=site, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    build = subprocess.run([sys.executable, "-m", "lsgan_lib", "build"], cwd=site, env=env, capture_output=True,
                           text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-5000:] + build.stderr[-5000:]
    return site, run.stdout, build.stdout


def test_every_chapter_runs_at_smoke_with_provenance(built_book):
    site, stdout, _ = built_book
    for chapter in profile_params.chapters(ROOT):
        assert f"{chapter}: ok" in stdout
        nb = nbformat.read(site / "book" / f"{chapter}.ipynb", as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"]
        assert nb.metadata.papermill.parameters.profile == "smoke"
        provenance = nb.cells[1]  # right after the chapter's title
        assert "lsgan-provenance" in provenance.metadata.tags
        table = provenance.outputs[0].data["text/markdown"]
        for key in ("profile | smoke", "commit", "device", "torch", "wall time"):
            assert key in table
        assert nb.metadata.lsgan["wall time"].endswith(" s")


def test_the_book_builds_with_figures(built_book):
    site, _, stdout = built_book
    html = site / "_build" / "html"
    assert (html / "index.html").is_file() and "the book is at" in stdout
    for chapter in profile_params.chapters(ROOT):
        page = (html / "book" / f"{chapter}.html").read_text()
        images = re.findall(r'<img[^>]+src="([^"]+)"', page)
        assert len(images) >= 3, chapter
        for src in images:
            if not src.startswith("data:"):
                assert (html / "book" / src).resolve().is_file(), src
        assert "reproduced" in page or "inconclusive" in page  # the claims table


def test_a_failing_chapter_is_reported_and_the_others_still_run(tmp_path):
    site = tmp_path / "site"
    (site / "notebooks" / "profiles").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", site / "_config.yml")
    (site / "notebooks" / "profiles" / "smoke.yml").write_text("a_broken: {}\nb_fine: {}\n")
    for name, body in [("a_broken", "raise RuntimeError('boom')"), ("b_fine", "print('fine')")]:
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("profile: str = 'cpu'  # {'smoke', 'cpu'}", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(body)],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(nb, site / "notebooks" / f"{name}.ipynb")
    result = subprocess.run([sys.executable, "-m", "lsgan_lib", "run", "--profile", "smoke", "--jobs", "2",
                             "--output-dir", "book"], cwd=site,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert re.search(r"a_broken: FAILED .*RuntimeError: boom", result.stdout), result.stdout
    assert "b_fine: ok" in result.stdout and "a_broken" in result.stderr
    assert (site / "book" / "b_fine.ipynb").is_file() and not (site / "book" / "a_broken.ipynb").exists()
    assert "in cell 2 of notebooks/a_broken.ipynb" in result.stdout  # counted in the source, not the executed copy
    failed = json.loads((site / "_build" / "failed" / "a_broken.ipynb").read_text())
    assert any(o.get("output_type") == "error" for c in failed["cells"] for o in c.get("outputs", []))


def test_figure_numbers_are_scoped_to_their_chapter(built_book):
    """"Figure 2.3" is chapter 2's third figure; the paper's own numbers stay in the captions' text ("Fig. N")."""
    site, _, _ = built_book
    html = site / "_build" / "html"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [entry["file"].split("/")[-1] for part in toc["parts"] if part.get("numbered")
                for entry in part["chapters"]]
    assert numbered == profile_params.chapters(ROOT)  # the book's order
    for number, chapter in enumerate(numbered, 1):
        page = (html / "book" / f"{chapter}.html").read_text()
        numbers = re.findall(r'<span class="caption-number">Figure (\d+)\.(\d+) </span>', page)
        assert numbers, chapter
        assert {int(c) for c, _ in numbers} == {number}, (chapter, numbers)
        assert [int(f) for _, f in numbers] == list(range(1, len(numbers) + 1)), (chapter, numbers)


def test_executed_chapters_hold_no_progress_widgets(built_book):
    """The runner's kernels print one line per training loop instead of a progress widget (LSGAN_PROGRESS=summary),
    so no executed chapter keeps a bar — frozen at 0% for cached runs, or finished."""
    site, _, _ = built_book
    for chapter in profile_params.chapters(ROOT):
        nb = json.loads((site / "book" / f"{chapter}.ipynb").read_text())
        state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        models = {m["model_name"] for m in state.get("state", {}).values()}
        assert not {"FloatProgressModel", "IntProgressModel"} & models, (chapter, models)
