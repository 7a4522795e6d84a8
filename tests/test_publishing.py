"""Where executed chapters go, how the kernels run, the refusal of machine paths, the smoke site, the local server."""

import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import nbformat
import pytest

from lsgan_lib.book import publishing
from lsgan_lib.book.cli import main

from .conftest import ROOT


def test_only_publishing_profiles_write_book(tmp_path):
    for profile in ("cpu", "gpu", "paper"):
        assert publishing.default_output_dir(tmp_path, profile) == tmp_path / "book"
    for profile in ("smoke", "quick"):
        assert publishing.default_output_dir(tmp_path, profile) == tmp_path / "_build" / "runs" / profile


def tiny_site(root, body):
    (root / "notebooks" / "profiles").mkdir(parents=True)
    (root / "_config.yml").write_text("title: t\n")
    (root / "notebooks" / "profiles" / "smoke.yml").write_text("probe: {}\n")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile: str = 'cpu'  # {'smoke', 'cpu'}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, root / "notebooks" / "probe.ipynb")


def test_a_smoke_run_goes_to_build_runs_over_ipc_with_summary_progress(tmp_path):
    site = tmp_path / "site"
    tiny_site(site, "import json, warnings\nfrom ipykernel.connect import get_connection_file\n"
                    "import lsgan_lib.measure.metrics as m\n"
                    "from lsgan_lib.train.toy import progress_mode\n"
                    "print(progress_mode(), json.load(open(get_connection_file()))['transport'])\n"
                    "warnings.warn_explicit('a warning', UserWarning, m.__file__, 1)")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    result = subprocess.run([sys.executable, "-m", "lsgan_lib", "run", "--profile", "smoke"], cwd=site, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    executed = site / "_build" / "runs" / "smoke" / "probe.ipynb"
    assert executed.is_file() and not (site / "book").exists()
    assert "build these chapters with `lsgan-book build --chapters" in result.stdout
    outputs = [o for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", [])]
    stdout = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert stdout.split() == ["summary", "ipc"]
    assert "lsgan_lib/measure/metrics.py:1: UserWarning: a warning" in stderr and str(ROOT) not in stderr
    assert "without encryption" not in result.stderr


def test_warnings_name_their_file_without_the_machine_path(tmp_path, monkeypatch):
    import warnings

    source = tmp_path / "project" / "lsgan_lib" / "metrics.py"
    source.parent.mkdir(parents=True)
    source.write_text("x = 1\nroot = sqrtm(a @ b)\n")
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # restored after the test
    publishing.portable_warnings(tmp_path / "project")
    publishing.portable_warnings(tmp_path / "project")  # twice: still one prefix removed, no nesting
    text = warnings.formatwarning("Matrix is singular", UserWarning, str(source), 2)
    assert text.startswith("lsgan_lib/metrics.py:2: UserWarning: Matrix is singular") and str(tmp_path) not in text
    assert "root = sqrtm(a @ b)" in text  # the source line is still shown
    import json as stdlib_json

    other = warnings.formatwarning("m", UserWarning, stdlib_json.__file__, 1)
    assert other.startswith("<python>/json/__init__.py:1") or other.startswith("<site-packages>/")


def test_a_real_kernel_error_still_reaches_the_terminal(tmp_path):
    site = tmp_path / "site"
    tiny_site(site, "raise RuntimeError('a real error')")
    result = subprocess.run([sys.executable, "-m", "lsgan_lib", "run", "--profile", "smoke"], cwd=site,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "RuntimeError: a real error" in result.stdout


def executed_chapter(path, text):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="fine\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR/home/x/", "text/plain": text})])])
    nbformat.write(nb, path)


@pytest.mark.parametrize("where", ["home", "data", "project"])
def test_machine_paths_are_found_in_text_outputs_not_in_images(tmp_path, monkeypatch, where):
    data = tmp_path / "the-data"
    monkeypatch.setenv("LSGAN_DATA", str(data))
    leaked = {"home": str(Path.home()), "data": str(data),
              "project": str(ROOT)}[where] + "/lsgan_lib/measure/metrics.py:181: LinAlgWarning"
    executed_chapter(tmp_path / "a.ipynb", f"read from {leaked}")
    found = publishing.machine_paths(tmp_path / "a.ipynb")
    assert [index for index, _ in found] == [0] and leaked.startswith(found[0][1])
    executed_chapter(tmp_path / "b.ipynb", "read from celeba/x.npz under LSGAN_DATA")
    assert publishing.machine_paths(tmp_path / "b.ipynb") == []
    # a longer name that merely starts like the home folder is not the home folder
    executed_chapter(tmp_path / "c.ipynb", f"{Path.home()}2 {Path.home()}-like")
    assert publishing.machine_paths(tmp_path / "c.ipynb") == []


def test_the_build_refuses_a_chapter_that_shows_the_home_folder(tmp_path, capsys):
    site = tmp_path / "site"
    tiny_site(site, "x = 1")
    (site / "book").mkdir()
    executed_chapter(site / "book" / "probe.ipynb", f"saved to {Path.home()}/results/run.pt")
    assert main(["build", "--root", str(site)]) == 1
    err = capsys.readouterr().err
    assert "probe.ipynb cell 0" in err and str(Path.home()) in err and "re-execute" in err


def test_stage_site_builds_a_copy_with_the_runs_chapters(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    executed_chapter(runs / "geometric_view.ipynb", "smoke output")
    site = publishing.stage_site(ROOT, runs)
    assert (site / "book" / "geometric_view.ipynb").read_text() == (runs / "geometric_view.ipynb").read_text()
    assert (site / "book" / "intro.md").is_file() and (site / "_toc.yml").is_file()
    assert (ROOT / "book" / "geometric_view.ipynb").read_text() != (runs / "geometric_view.ipynb").read_text()
    with pytest.raises(FileNotFoundError, match="no executed chapter"):
        publishing.stage_site(ROOT, tmp_path / "empty")


def test_the_server_serves_the_book_on_localhost(tmp_path):
    (tmp_path / "index.html").write_text("<p>the book</p>")
    server = publishing.make_server(tmp_path, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        assert urllib.request.urlopen(url, timeout=10).read() == b"<p>the book</p>"
    finally:
        server.shutdown(), server.server_close()
    with pytest.raises(FileNotFoundError, match="lsgan-book build"):
        publishing.make_server(tmp_path / "nothing", port=0)


def test_lsgan_book_serve_prints_the_url(tmp_path):
    (tmp_path / "index.html").write_text("ok")
    process = subprocess.Popen([sys.executable, "-m", "lsgan_lib", "serve", "--dir", str(tmp_path), "--port", "0"],
                               stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    try:
        line = process.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and urllib.request.urlopen(url, timeout=10).read() == b"ok"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_serve_hint_names_the_folder_only_when_it_is_not_the_default(tmp_path):
    assert publishing.serve_command(tmp_path / "_build" / "html", tmp_path) == "lsgan-book serve"
    assert publishing.serve_command(tmp_path / "x" / "html", tmp_path) == f"lsgan-book serve --dir {tmp_path}/x/html"



@pytest.mark.skipif(not Path("/usr/bin/make").exists(), reason="make is not installed")
@pytest.mark.parametrize("profile, published", [("smoke", False), ("quick", False), ("cpu", True), ("", True)])
def test_make_book_builds_book_only_at_publishing_profiles(profile, published):
    commands = subprocess.run(["make", "-n", "-W", "pyproject.toml", "book", f"PROFILE={profile}", "LSGAN_DATA="],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()
    run = next(c for c in commands if "lsgan-book run" in c)
    build = next(c for c in commands if "lsgan-book build" in c)
    assert "--output-dir" not in run  # the runner's default applies: book/ only at cpu, gpu, paper
    assert ("--chapters" not in build) == published
    if not published:
        assert build.endswith(f"--chapters _build/runs/{profile}")
    assert any("lsgan-book data all --if-missing" in c for c in commands)  # LSGAN_DATA unset: fetch what is missing
    with_data = subprocess.run(["make", "-n", "book", f"PROFILE={profile}", "LSGAN_DATA=/data"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    assert "lsgan-book data" not in with_data


def test_lsgan_book_figures_lists_the_figures_whose_text_does_not_read(tmp_path, monkeypatch):
    site = tmp_path / "site"
    tiny_site(site, "%matplotlib inline\nimport matplotlib.pyplot as plt\nfrom lsgan_lib import plots\n"
                    "fig, ax = plt.subplots(figsize=(3, 2))\nax.set_title('one title'); ax.text(0.5, 1.02, 'on top', "
                    "transform=ax.transAxes)\nplt.show()\n"
                    "fig, ax = plt.subplots(figsize=(3, 2)); ax.set_title('fine')\nplt.show()\n"
                    "frame, ax = plt.subplots(figsize=(3, 2)); frame.text(0.8, 0.5, 'beyond the right edge')\n"
                    "png = plots.figure_png(frame)\nraise RuntimeError('later')")
    monkeypatch.chdir(site)
    records = publishing.figure_problems(site, "probe", {"profile": "smoke"})
    assert [r["where"] for r in records] == ["figure", "figure", "slider frame", "error"]
    assert any("overlap" in p for p in records[0]["problems"]) and records[1]["problems"] == []
    assert any("cut off" in p for p in records[2]["problems"]) and "RuntimeError: later" in records[3]["title"]


@pytest.mark.skipif(os.name != "posix", reason="IPC sockets are a Unix transport")
def test_each_kernel_gets_its_own_socket_folder(tmp_path):
    """Two kernels started at once (--jobs 2) must not share IPC sockets (they read each other's messages): each
    kernel's sockets live in its run's own scratch folder, removed with it."""
    first, second = (publishing.kernel_settings(tmp_path / name)["config"] for name in ("a", "b"))
    assert first.KernelManager.transport == second.KernelManager.transport == "ipc"
    assert Path(first.KernelManager.ip).parent == tmp_path / "a"
    assert Path(second.KernelManager.ip).parent == tmp_path / "b"


def _progress_notebook(value: int, total: int, right: str) -> dict:
    """A notebook holding one tqdm widget (HBox of HTML, FloatProgress, HTML) and one slider, as Jupyter stores them."""
    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
                "state": state}

    state = {"box": model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"],
                          layout="IPY_MODEL_box-layout"),
             "box-layout": model("LayoutModel"), "left": model("HTMLModel", value="sweep\u2007(3\u2007runs):\u2007100%",
                                                               style="IPY_MODEL_left-style"),
             "left-style": model("HTMLStyleModel"), "bar": model("FloatProgressModel", value=value, max=total),
             "right": model("HTMLModel", value=right), "slider": model("SelectionSliderModel", value="a")}
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    slider = {"model_id": "slider", "version_major": 2, "version_minor": 0}
    return {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}}},
            "cells": [{"cell_type": "code", "outputs": [
                {"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json": view,
                                                         "text/plain": "sweep: 0%| | 0/1500 [00:00<?, ?it/s]"}},
                {"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json": slider}}]}]}


def test_progress_widgets_become_one_line_and_leave_the_widget_state():
    from lsgan_lib.book.publishing import plain_progress_outputs

    nb = _progress_notebook(1500, 1500, " 1500/1500 [02:03&lt;00:00, 12.1it/s]")
    assert plain_progress_outputs(nb) == 1
    first, second = nb["cells"][0]["outputs"]
    assert first == {"output_type": "stream", "name": "stdout",
                     "text": "sweep (3 runs): 1,500 of 1,500 iterations ran in 02:03\n"}
    assert not re.search(r"\b\d+/\d+ \[\d\d:\d\d<", first["text"])  # what the browser test looks for
    assert "slider" in second["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]  # other widgets stay
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert set(state) == {"slider"}
    assert plain_progress_outputs(nb) == 0  # nothing left to replace


def test_a_bar_that_never_moved_says_no_iteration_ran():
    from lsgan_lib.book.publishing import plain_progress_outputs

    nb = _progress_notebook(0, 200, " 0/200 [00:00&lt;?, ?it/s]")
    plain_progress_outputs(nb)
    assert nb["cells"][0]["outputs"][0]["text"] == "sweep (3 runs): 0 of 200 iterations ran\n"
