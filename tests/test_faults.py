"""The fault matrix of issue 18: how ``lsgan-book`` and the library behave when something goes wrong.

- **Ctrl-C during ``run``** — the kernel is interrupted; exit 130 within seconds; one line naming the chapter, what was
  cached and how to resume; no scratch folder; nothing written to the output folder
- **a kernel that dies** — the notebook is kept at ``_build/failed/<chapter>.ipynb`` and the message names that path
- **``build`` over an error output, a missing or a truncated chapter** — exit 1, one line per chapter, ``claims.md``
  unchanged
- **bad parameters (empty list, NaN/inf, ``profile`` via ``-p``, a path as ``--profile``, a malformed or tagged profile
  file, an output folder that cannot be made)** — exit 2 before any kernel, one line naming the parameter or file
- **a cache entry of random bytes, without its state dicts, or with NaN weights** — reported naming the file (never
  suggesting ``weights_only=False``), retrained, replaced
- **a read-only results folder** — one warning; the result is kept in memory for the run
- **cache files** — honour the umask
- **corrupt-entry warnings in a chapter** — shown on the terminal too
- **truncated MNIST ``.gz``, random or truncated CelebA ``.npz``** — ``DatasetCorrupt`` naming the file, its expected
  size and checksum, and the fix
- **samples that blow up but stay finite** — a warning and a failed gate; a value that cannot be computed reads "not
  computable (reason)"
- **one entry of a cached batch deleted** — the batch is retrained whole: every entry equal bit for bit to the original
- **``run --fresh``** — a new, empty results cache; the provenance says so and records what was computed and its hash

Issue 32 (section 10):

- **a full disk under ``--output-dir`` or ``book/`` (1 MB tmpfs, else a writer stopping with ENOSPC)** — the old
  notebook, ``claims.md`` and ``intro.md`` unchanged byte for byte; one line with cause and fix; exit 1; no temporary
  file or scratch folder left
- **a full results folder** — one warning naming "No space left on device" (not torch's "unexpected pos"); results kept
  in memory; no partial entry
- **duplicate seeds (``-p``, a profile file, a sweep grid; any list named ``*seeds*``)** — exit 2 naming the parameter
  and the seed
- **a profile file with a mistyped chapter, empty, or without the chapter run** — exit 2 naming the key (did-you-mean)
  or asking for ``--allow-defaults``
- **``serve`` on a busy port / port 80000, ``data --to <file>/x``, an output notebook that cannot be written** — one
  line; exit 1 / 2 / 2 / 1
- **``build --chapters DIR`` over a truncated notebook** — names ``DIR/x.ipynb``, not the staged copy
- **stale ``lsgan-{run,kernel,sweep,figures}-*`` folders** — removed when older than a day and their owner is gone;
  others' folders untouched
- **a dataset file changed in place at the same size** — decoded again (the decode cache is keyed by SHA-256)
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from lsgan_lib.train import batched
from lsgan_lib.book import parameters as profile_params, runner
from lsgan_lib import cache, files
from lsgan_lib.files import WriteFailed
from lsgan_lib.measure import claims
from lsgan_lib.data import images as datasets
from lsgan_lib.measure import metrics
from lsgan_lib.train import toy as training
from lsgan_lib.book.parameters import ParameterError
from lsgan_lib.train.toy import GANConfig, train_gan

from .conftest import ROOT

KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


# ---------------------------------------------------------------------------------------------------------------------
# A tiny project: _config.yml, notebooks/<chapter>.ipynb, a smoke profile
# ---------------------------------------------------------------------------------------------------------------------


def make_project(root: Path, body: str, parameters: str = "n: int = 1  # [1, 10] a number\n", chapter: str = "ch"
                 ) -> Path:
    (root / "notebooks" / "profiles").mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text("title: test\n")
    (root / "notebooks" / "profiles" / "smoke.yml").write_text(f"{chapter}:\n  n: 2\n")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A chapter"),
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body)], metadata=KERNELSPEC)
    nbformat.write(nb, root / "notebooks" / f"{chapter}.ipynb")
    return root


def project_env(root: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(root / "tmp"), LSGAN_RESULTS=str(root / "results"))
    (root / "tmp").mkdir(exist_ok=True)
    return env


def cli_in(root: Path, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "lsgan_lib", *args], cwd=root, capture_output=True, text=True,
                          timeout=timeout, env=project_env(root))


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "lsgan_lib", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, **kwargs)


def scratch_folders(root: Path) -> list[Path]:
    return list((root / "tmp").glob("lsgan-run-*"))


# ---------------------------------------------------------------------------------------------------------------------
# 1. Ctrl-C
# ---------------------------------------------------------------------------------------------------------------------

TRAINING_FOREVER = """
import os, torch
from lsgan_lib import cache, files
from lsgan_lib.files import WriteFailed
open(os.environ["TMPDIR"] + "/kernel.pid", "w").write(str(os.getpid()))
cache.store("demo", {"i": 0}, {"x": torch.zeros(3)})
a = torch.randn(300, 300)
while True:
    a = torch.tanh(a @ a)
"""


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_one_ctrl_c_stops_the_run_within_seconds_with_exit_130_and_no_scratch_folder(sig, status, tmp_path):
    root = make_project(tmp_path, TRAINING_FOREVER)
    out = tmp_path / "out"
    # As a terminal's foreground command: Ctrl-C's default action. A shell's background job (`pytest ... &`) inherits
    # SIGINT ignored, and a Python started so never raises KeyboardInterrupt: that was this test's "flake".
    process = subprocess.Popen([sys.executable, "-m", "lsgan_lib", "run", "ch", "--profile", "smoke", "--output-dir",
                                str(out)], cwd=root, env=project_env(root), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "results" / "demo").glob("*.pt")):  # the kernel is training
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        kernel = int((tmp_path / "tmp" / "kernel.pid").read_text())
        time.sleep(1.0)
        process.send_signal(sig)
        sent = time.monotonic()
        stdout, stderr = process.communicate(timeout=30)
        stopped = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status, stderr
    assert stopped < 10, f"took {stopped:.1f} s to stop"
    assert "Traceback" not in stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("lsgan-book: interrupted") and "ch (interrupted in cell 2 of notebooks/ch.ipynb)" in line
    assert "1 results-cache entry written so far" in line and "run the same command again" in line
    assert scratch_folders(tmp_path) == []
    assert not list(out.glob("*.ipynb"))  # nothing published
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):  # the kernel was shut down
        os.kill(kernel, 0)


# ---------------------------------------------------------------------------------------------------------------------
# 5. A dead kernel; and corrupt-entry warnings reach the terminal
# ---------------------------------------------------------------------------------------------------------------------


def test_a_dead_kernel_keeps_the_failed_notebook_and_names_its_path(tmp_path):
    root = make_project(tmp_path, "import os, signal\nprint('about to die', flush=True)\n"
                                  "os.kill(os.getpid(), signal.SIGKILL)")
    result = cli_in(root, "run", "ch", "--profile", "smoke", "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    failed = tmp_path / "_build" / "failed" / "ch.ipynb"
    assert failed.is_file() and f"the failed notebook is at {failed}" in result.stdout
    assert "the kernel died in cell 2 of notebooks/ch.ipynb" in result.stdout
    assert scratch_folders(tmp_path) == []


def test_corrupt_cache_warnings_of_a_chapter_reach_the_terminal(tmp_path):
    body = ("import torch\nfrom lsgan_lib import cache\n"
            "path = cache.entry_path('demo', {'i': 1})\npath.parent.mkdir(parents=True, exist_ok=True)\n"
            "path.write_bytes(b'not a checkpoint')\n"
            "payload, hit = cache.cached('demo', {'i': 1}, lambda: {'x': torch.ones(2)})\nassert not hit")
    root = make_project(tmp_path, body)
    result = cli_in(root, "run", "ch", "--profile", "smoke", "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    entry = tmp_path / "results" / "demo" / f"{cache.config_hash({'i': 1})}.pt"
    assert f"ch: warning: results cache: cannot read {entry}" in result.stderr
    assert "weights_only=False" not in result.stderr


# ---------------------------------------------------------------------------------------------------------------------
# 9. --fresh, and the results record in the provenance
# ---------------------------------------------------------------------------------------------------------------------


def provenance(path: Path) -> dict:
    return json.loads(path.read_text())["metadata"]["lsgan"]


def test_fresh_runs_from_a_new_empty_cache_and_the_provenance_records_the_results_and_their_hash(tmp_path):
    body = ("import torch\nfrom lsgan_lib import cache\n"
            "cache.cached('demo', {'i': 2}, lambda: {'x': torch.arange(4.0), 'seconds': 1.0})")
    root = make_project(tmp_path, body)
    out = tmp_path / "out"
    first = cli_in(root, "run", "ch", "--profile", "smoke", "--output-dir", str(out))
    assert first.returncode == 0, first.stderr
    shared = provenance(out / "ch.ipynb")
    assert shared["results cache"] == "shared: results"  # relative to the project: no path of the machine
    assert shared["results"].startswith("1 computed, 0 loaded from the cache; sha256 ")
    again = cli_in(root, "run", "ch", "--profile", "smoke", "--output-dir", str(out))
    assert provenance(out / "ch.ipynb")["results"].startswith("0 computed, 1 loaded")
    fresh = cli_in(root, "run", "ch", "--profile", "smoke", "--output-dir", str(out), "--fresh")
    assert again.returncode == 0 and fresh.returncode == 0, fresh.stderr
    record = provenance(out / "ch.ipynb")
    folders = list((tmp_path / "results" / "fresh").iterdir())
    assert len(folders) == 1 and list((folders[0] / "demo").glob("*.pt"))
    assert record["results cache"] == f"fresh: empty at the start (results/fresh/{folders[0].name})"
    assert record["results"].startswith("1 computed, 0 loaded")
    assert record["results"].split("sha256 ")[1] == shared["results"].split("sha256 ")[1]  # the same numbers
    nb = json.loads((out / "ch.ipynb").read_text())
    assert not any("lsgan-results" in c["metadata"].get("tags", []) for c in nb["cells"])


def test_the_results_digest_ignores_timings_and_sees_numbers():
    a = {"x": torch.arange(3.0), "seconds": 1.0, "device": "cpu (2 threads)", "n": [1, 2]}
    b = a | {"seconds": 2.5, "device": "NVIDIA H200"}
    assert cache.payload_digest(a) == cache.payload_digest(b)
    assert cache.payload_digest(a) != cache.payload_digest(a | {"x": torch.tensor([0.0, 1.0, 2.0000002])})


# ---------------------------------------------------------------------------------------------------------------------
# 2. build refuses broken chapters before writing claims.md
# ---------------------------------------------------------------------------------------------------------------------


def executed(cells_outputs: list[list[dict]]) -> str:
    cells = [{"cell_type": "code", "source": "", "metadata": {}, "outputs": outputs, "execution_count": None}
             for outputs in cells_outputs]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.mark.parametrize("fault", ["error output", "missing", "truncated"])
def test_build_refuses_a_broken_chapter_with_exit_1_and_leaves_claims_md_unchanged(fault, tmp_path):
    root = make_project(tmp_path, "x = 1")
    make_project(tmp_path, "y = 2", chapter="other")
    (root / "book").mkdir()
    (root / "book" / "claims.md").write_text("the committed overview\n")
    (root / "book" / "other.ipynb").write_text(executed([[]]))
    error = {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": []}
    good = executed([[], [{"output_type": "stream", "name": "stdout", "text": "ok"}]])
    if fault == "error output":
        (root / "book" / "ch.ipynb").write_text(executed([[], [error]]))
        expected = f"{root / 'book' / 'ch.ipynb'}: cell 1 has an error output (ZeroDivisionError: division by zero)"
    elif fault == "truncated":
        (root / "book" / "ch.ipynb").write_text(good[:50])
        expected = f"{root / 'book' / 'ch.ipynb'} is not a readable notebook (JSONDecodeError at line 1"
    else:
        expected = f"{root / 'book' / 'ch.ipynb'} is missing. Fix: `lsgan-book run ch`"
    result = cli_in(root, "build", "--root", str(root), "--path-output", str(tmp_path / "site"))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr
    assert (root / "book" / "claims.md").read_text() == "the committed overview\n"
    assert not (tmp_path / "site").exists()


# ---------------------------------------------------------------------------------------------------------------------
# 3. Parameters: one line, exit 2, before any kernel
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("override, name, says", [
    ("seeds_original_code=[]", "seeds_original_code", "is empty"), ("eps=.nan", "eps", "not a finite number"),
    ("eps=nan", "eps", "not a finite"),
    ("eps=-.inf", "eps", "not a finite number"), ("eps=1e999", "eps", "not a finite number"),
    ("profile=paper", "profile", "not a parameter")])
def test_bad_values_exit_2_naming_the_parameter(override, name, says, tmp_path):
    result = cli("run", "geometric_view", "--profile", "smoke", "-p", override, "--output-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"'{name}'" in lines[0] and says in lines[0]
    assert not list(tmp_path.iterdir())


def test_floats_are_read_as_python_reads_them_and_empty_default_lists_may_stay_empty(tmp_path):
    root = make_project(tmp_path, "x = 1", "n: int = 1\nlr: float = 0.1  # [0.0, 1.0]\n"
                                           "extra: list[int] = []  # [0, 9]\nseeds: list[int] = [0]  # [0, 9]\n")
    values = profile_params.resolve_parameters(root, "ch", "smoke",
                                               profile_params.parse_overrides(["lr=1e-10", "extra=[]"]))
    assert values["lr"] == 1e-10 and values["extra"] == []
    with pytest.raises(ParameterError, match="'seeds'.*empty"):
        profile_params.resolve_parameters(root, "ch", "smoke", profile_params.parse_overrides(["seeds=[]"]))


def test_a_profile_path_is_refused_and_profile_files_go_through_their_own_option(tmp_path):
    evil = tmp_path / "evil.yml"
    evil.write_text("geometric_view:\n  n_iter: 3\n")
    result = cli("run", "geometric_view", "--profile", str(evil.with_suffix("")), "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2 and "unknown profile" in result.stderr and "--profile-file" in result.stderr
    result = cli("run", "geometric_view", "--profile", "../../../evil", "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2 and "unknown profile '../../../evil'" in result.stderr
    assert profile_params.resolve_parameters(ROOT, "geometric_view", evil, [])["n_iter"] == 3
    assert profile_params.resolve_parameters(ROOT, "geometric_view", evil, [])["profile"] == "evil"


@pytest.mark.parametrize("text, line, says", [
    ("geometric_view:\n  n_iter: 3\n   seeds: [0\n", 3, "profile file"),
    ("geometric_view: !!python/object/apply:os.system ['touch {marker}']\n", 1, "could not determine a constructor"),
])
def test_a_malformed_or_tagged_profile_file_is_one_line_naming_file_and_line(text, line, says, tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "bad.yml"
    path.write_text(text.format(marker=marker))
    result = cli("run", "geometric_view", "--profile-file", str(path), "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"profile file {path}, line {line}" in lines[0] and says in lines[0]
    assert not marker.exists()


def test_a_truncated_chapter_source_is_one_line_naming_it(tmp_path):
    root = make_project(tmp_path, "x = 1")
    path = root / "notebooks" / "ch.ipynb"
    path.write_text(path.read_text()[:100])
    result = cli_in(root, "run", "ch", "--profile", "smoke")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"lsgan-book: {path} is not a readable notebook (JSONDecodeError: truncated or " \
                                    "edited). Fix: `git checkout ch.ipynb` in notebooks/, or repair it"


def test_an_output_dir_that_cannot_be_created_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("run", "geometric_view", "--profile", "smoke", "--output-dir", str(blocker / "sub"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--output-dir {blocker / 'sub'} cannot be created" in lines[0]


# ---------------------------------------------------------------------------------------------------------------------
# 4. Cache entries
# ---------------------------------------------------------------------------------------------------------------------

TINY = dict(data="eight_gaussians", n_iter=3, batch_size=16, widths=(8, 8), snapshots=(0, 3), n_eval=20)


def test_random_bytes_in_a_cache_entry_are_reported_in_our_words(tmp_path):
    config = GANConfig(**TINY)
    path = cache.entry_path(training.CACHE_KIND, config.as_dict())
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(4096))
    with pytest.warns(UserWarning) as record:
        run = train_gan(config, progress=False)
    text = " ".join(str(w.message) for w in record)
    assert f"cannot read {path}" in text and "weights_only=False" not in text and "Weights only" not in text
    assert not run.from_cache and train_gan(config, progress=False).from_cache  # replaced


@pytest.mark.parametrize("damage, says", [
    (lambda p: p.pop("generator"), "no 'generator'"),
    (lambda p: p["critic"].pop(next(iter(p["critic"]))), "Missing key"),
    (lambda p: p["generator"][next(iter(p["generator"]))].fill_(float("nan")), "NaN or infinite"),
    (lambda p: p["snapshots"].fill_(float("inf")), "'snapshots' holds NaN or infinite"),
])
def test_a_readable_entry_with_a_broken_payload_is_reported_retrained_and_replaced(damage, says):
    config = GANConfig(**TINY)
    original = train_gan(config, progress=False)
    path = cache.entry_path(training.CACHE_KIND, config.as_dict())
    entry = torch.load(path, weights_only=True)
    damage(entry["payload"])
    torch.save(entry, path)
    with pytest.warns(UserWarning, match=f"{path} holds a payload its reader cannot use.*{says}"):
        again = train_gan(config, progress=False)
    assert not again.from_cache and torch.equal(again.final, original.final)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train_gan(config, progress=False).from_cache


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_results_folder_warns_once_and_keeps_the_result_in_memory(tmp_path, monkeypatch):
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    monkeypatch.setattr(cache, "_UNWRITABLE_REPORTED", set())
    try:
        with pytest.warns(UserWarning, match="cannot write to") as record:
            a = train_gan(GANConfig(**TINY), progress=False, results_root=folder)
            b = train_gan(GANConfig(**TINY | {"seed": 1}), progress=False, results_root=folder)
        assert sum("cannot write to" in str(w.message) for w in record) == 1
        assert not a.from_cache and not b.from_cache and a.final.shape == (20, 2)
    finally:
        folder.chmod(0o755)


def test_a_read_only_results_folder_is_tolerated_even_as_root(tmp_path, monkeypatch):
    def refuse(path, *args, **kwargs):
        raise WriteFailed(path, "Permission denied", "make the folder writable, or write to another one")

    monkeypatch.setattr(cache, "save_entry", refuse)
    monkeypatch.setattr(cache, "_UNWRITABLE_REPORTED", set())
    with pytest.warns(UserWarning, match="cannot write to .*kept in memory only") as record:
        runs = [train_gan(GANConfig(**TINY | {"seed": s}), progress=False) for s in range(2)]
    assert sum("cannot write to" in str(w.message) for w in record) == 1
    assert all(not r.from_cache for r in runs)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_cache_files_honour_the_umask(umask, mode, tmp_path):
    previous = os.umask(umask)
    try:
        cache.store("demo", {"u": umask}, {"x": torch.zeros(1)}, tmp_path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(cache.entry_path("demo", {"u": umask}, tmp_path).stat().st_mode) == mode


def test_cache_warnings_are_collected_from_a_notebooks_stderr():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[
        nbformat.v4.new_output("stream", name="stderr", text="/x/cache.py:9: UserWarning: results cache: cannot read "
                                                             "/r/gan/a.pt: it is not ...; recomputing\n  warn()\n"),
        nbformat.v4.new_output("stream", name="stdout", text="results cache: not a warning\n")])])
    assert runner.cache_warnings(nb) == ("results cache: cannot read /r/gan/a.pt: it is not ...; recomputing",)


# ---------------------------------------------------------------------------------------------------------------------
# 6. Datasets
# ---------------------------------------------------------------------------------------------------------------------

SHARED = Path(os.environ.get("LSGAN_DATA", ROOT / "../shared/data"))


def copy_prefix(source: Path, target: Path, n: int | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    target.write_bytes(data if n is None else data[:n])


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="needs the offline data (LSGAN_DATA)")
def test_a_truncated_mnist_file_is_named_with_its_expected_size_and_checksum(tmp_path, monkeypatch):
    raw = "mnist/MNIST/raw/"
    copy_prefix(SHARED / raw / "train-images-idx3-ubyte.gz", tmp_path / raw / "train-images-idx3-ubyte.gz", 500_000)
    copy_prefix(SHARED / raw / "train-labels-idx1-ubyte.gz", tmp_path / raw / "train-labels-idx1-ubyte.gz", None)
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path))
    with pytest.raises(datasets.DatasetCorrupt) as error:
        datasets.load_images("mnist")
    text = str(error.value)
    assert f"dataset file {tmp_path / raw / 'train-images-idx3-ubyte.gz'} is corrupt (EOFError" in text
    assert "9,912,422 bytes with sha256 440fcabf" in text and "this file is 500,000 bytes" in text
    assert "copy mnist/MNIST/raw/train-images-idx3-ubyte.gz again from shared/data" in text


@pytest.mark.parametrize("content", ["random", "truncated"])
def test_a_corrupt_celeba_archive_is_named_and_never_suggests_pickles(content, tmp_path, monkeypatch):
    path = tmp_path / "celeba" / "celeba64_subset.npz"
    path.parent.mkdir()
    if content == "random":
        path.write_bytes(os.urandom(10_000))
    else:
        np.savez(path, x=np.zeros((20, 64, 64, 3), dtype=np.uint8))
        path.write_bytes(path.read_bytes()[:3000])
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path))
    with pytest.raises(datasets.DatasetCorrupt) as error:
        datasets.load_images("celeba")
    text = str(error.value)
    assert f"dataset file {path} is corrupt" in text and "56,479,408 bytes with sha256 c2e6de10" in text
    assert "pickle" not in text.lower()
    assert isinstance(error.value, ValueError) and error.value.__cause__ is None


def test_a_numpy_pickle_posing_as_celeba_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "celeba" / "celeba64_subset.npz"
    path.parent.mkdir()
    marker = tmp_path / "ran"
    np.save(path.with_suffix(".npy"), np.array([os.system], dtype=object), allow_pickle=True)  # a pickled object
    path.with_suffix(".npy").rename(path)
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path))
    with pytest.raises(datasets.DatasetCorrupt, match="not a numpy archive"):
        datasets.load_images("celeba")
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------------------------
# 7. Blow-ups that stay finite
# ---------------------------------------------------------------------------------------------------------------------


def test_samples_that_blow_up_while_finite_fail_the_gate_with_a_warning():
    from lsgan_lib.data.distributions import data_manifold

    data = data_manifold("eight_gaussians").sample(500, torch.Generator().manual_seed(0))
    good = data_manifold("eight_gaussians").sample(500, torch.Generator().manual_seed(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        passed = metrics.blow_up_gate([good, good * 1.2], data)
    assert passed.passed and passed.value <= 1.5
    blown = good * 1e4  # what geometric_view produced at lr=1.0: finite, ~1e4
    with pytest.warns(RuntimeWarning, match=r"blew up in seed #1: samples up to .* data radii away"):
        failed = metrics.blow_up_gate([good, blown], data, what="minimax GAN")
    assert not failed.passed and failed.value > 1000
    claim = claims.Claim("002", "c", "m", "v", "crit", True, kind="empirical", gates=(failed,))
    assert claim.verdict == "not tested" and "minimax GAN" in claim.reason
    with pytest.warns(RuntimeWarning, match="NaN or infinite samples"):
        assert not metrics.blow_up_gate([good * float("nan")], data).passed


def test_a_value_that_cannot_be_computed_is_reported_with_its_reason():
    assert claims.value_text(0.2154, "x") == "0.215"
    assert claims.value_text(float("nan"), "every WGAN run diverged") == "not computable (every WGAN run diverged)"
    assert claims.value_text(math.inf, "r") == "not computable (r)" and claims.value_text(None, "r").startswith("not")


# ---------------------------------------------------------------------------------------------------------------------
# 8. A run's numbers do not depend on what else was cached
# ---------------------------------------------------------------------------------------------------------------------


def entry_numbers(path: Path) -> dict:
    payload = torch.load(path, weights_only=True)["payload"]
    return {k: v for k, v in payload.items() if k not in ("seconds", "device")}  # wall time and device name


def assert_bitwise_equal(a, b, where=""):
    assert type(a) is type(b), where
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(
            a.view(-1).view(torch.uint8) if a.numel() else a,
            b.view(-1).view(torch.uint8) if b.numel() else b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_bitwise_equal(a[k], b[k], f"{where}.{k}")
    else:
        assert a == b, where


def test_deleting_one_entry_of_a_cached_sweep_and_rerunning_gives_every_entry_bit_for_bit(tmp_path):
    # the geometric-view chapter's sweep at smoke sizes: panels x seeds, one batch per shape
    configs = [GANConfig(data=data, latent=latent, latent_dim=dim, n_iter=20, batch_size=32, snapshots=(0, 10, 20),
                         n_eval=200, seed=seed)
               for data, latent, dim in [("eight_gaussians", "gaussian", 2), ("eight_gaussians", "uniform", 2),
                                         ("nine_squares", "gaussian", 2), ("eight_gaussians", "gaussian", 1)]
               for seed in (0, 1)]
    batched.train_sweep(configs, progress=False, results_root=tmp_path)
    files = sorted((tmp_path / training.CACHE_KIND).glob("*.pt"))
    assert len(files) == len(configs)
    original = {f.name: entry_numbers(f) for f in files}
    victim = files[2]
    victim.unlink()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rerun = batched.train_sweep(configs, progress=False, results_root=tmp_path)
    assert sorted(f.name for f in (tmp_path / training.CACHE_KIND).glob("*.pt")) == [f.name for f in files]
    for f in files:
        assert_bitwise_equal(original[f.name], entry_numbers(f), f.name)
    assert any(re.search(r"1 of the (\d) runs of this batch are missing; retraining all \1 together", str(w.message))
               for w in record)
    again = batched.train_sweep(configs, progress=False, results_root=tmp_path)
    for a, b in zip(rerun, again):
        assert b.from_cache and torch.equal(a.final, b.final)


# ---------------------------------------------------------------------------------------------------------------------
# 10. Issue 32: a full disk, duplicate seeds, mistyped profile keys, one line per environment fault, scratch folders
# ---------------------------------------------------------------------------------------------------------------------

FREE = 16 * 1024  # bytes left on the "full" disk: a small file fits, a notebook or a cache entry does not


class ShortWriter(files._RecordingWriter):
    """The fallback where ``mount -t tmpfs`` is refused: a file whose writes stop with ENOSPC after :data:`FREE`
    bytes, as on a disk with that much space left."""

    def __init__(self, handle):
        super().__init__(handle)
        self.written = 0

    def write(self, data) -> int:
        if self.written + len(data) > FREE:
            self.error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise self.error
        self.written += len(data)
        return super().write(data)


def _fill(folder: Path) -> None:
    """Fill the disk under ``folder`` but for :data:`FREE` bytes."""
    reserve = folder / ".reserve"
    reserve.write_bytes(b"\0" * FREE)
    with open(folder / ".filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    reserve.unlink()


@pytest.fixture
def full_disk(tmp_path, monkeypatch):
    """``prepare(folder)``: call it once the folder holds its old files; from then on the folder's disk is full but
    for :data:`FREE` bytes — a 1 MB tmpfs where this machine allows mounting (root with CAP_SYS_ADMIN), else every
    write of :func:`lsgan_lib.files.write_atomically` in this process stops with ENOSPC after FREE bytes."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                                                   capture_output=True).returncode == 0

    def prepare() -> Path:
        if mounted:
            _fill(folder)
        else:
            monkeypatch.setattr(files, "_RecordingWriter", ShortWriter)
        return folder

    yield folder, prepare
    if mounted:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def run_in_process(root: Path, monkeypatch, *args) -> int:
    """``lsgan-book ARGS`` in this process (so the fallback's patched writer applies), in project ``root``."""
    from lsgan_lib.book import cli as book_cli

    monkeypatch.chdir(root)
    for name, value in project_env(root).items():
        if name in ("PYTHONPATH", "TMPDIR", "LSGAN_RESULTS"):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(tempfile, "tempdir", str(root / "tmp"))
    return book_cli.main(list(args))


def test_a_full_output_disk_keeps_the_old_notebook_byte_for_byte_in_one_line_exit_1(full_disk, tmp_path, monkeypatch,
                                                                                     capsys):
    root = make_project(tmp_path / "project", "print('x' * 100_000)")  # a notebook of ~100 kB: more than FREE
    folder, prepare = full_disk
    (folder / "ch.ipynb").write_text('{"pre":1}\n')
    stale = root / "tmp" / "lsgan-run-killed"  # a killed run's scratch folder, two days old
    stale.mkdir(parents=True)
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    prepare()
    status = run_in_process(root, monkeypatch, "run", "ch", "--profile", "smoke", "--output-dir", str(folder))
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert (folder / "ch.ipynb").read_bytes() == b'{"pre":1}\n'
    line = next(line for line in out.splitlines() if "ch: FAILED" in line)
    assert f"executed, but not published: cannot write {folder / 'ch.ipynb'}: No space left on device" in line
    assert "Fix: free space on that disk" in line and "Traceback" not in out + err
    assert err.strip() == "lsgan-book: 1 chapter(s) failed: ch"
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # the partial temporary file is gone
    assert list((root / "tmp").glob("lsgan-*")) == []  # this run's scratch and the stale one


@pytest.mark.parametrize("too_big", ["claims.md", "intro.md"])
def test_a_full_disk_under_book_keeps_claims_md_and_intro_md_whole(too_big, full_disk, tmp_path, monkeypatch, capsys):
    from lsgan_lib.book import build

    root = make_project(tmp_path / "project", "x = 1")
    folder, prepare = full_disk
    (folder / "ch.ipynb").write_text(executed([[]]))
    (folder / "claims.md").write_text("the committed overview\n")
    (folder / "intro.md").write_text("the committed intro\n")
    (root / "book").symlink_to(folder)
    texts = {"claims.md": "new overview\n", "intro.md": "new intro\n"} | {too_big: "x" * 100_000}
    monkeypatch.setattr(build, "check_portable", lambda *a, **k: None)
    monkeypatch.setattr(build, "stage_widget_assets", lambda root: None)
    monkeypatch.setattr(build, "claims_overview", lambda *a: texts["claims.md"])
    monkeypatch.setattr(build, "claims_totals", lambda *a: None)
    monkeypatch.setattr(build, "with_totals", lambda *a: texts["intro.md"])
    prepare()
    status = run_in_process(root, monkeypatch, "build", "--root", str(root))
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in out + err
    assert err.strip().splitlines() == [f"lsgan-book: cannot write {root / 'book' / too_big}: No space left on device; "
                                        "the file there before (if any) is unchanged. Fix: free space on that disk, or "
                                        "write to another one"]
    assert (folder / "intro.md").read_text() == "the committed intro\n"
    assert (folder / "claims.md").read_text() == ("the committed overview\n" if too_big == "claims.md" else
                                                  "new overview\n")
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_full_results_disk_warns_once_keeps_results_in_memory_and_leaves_no_partial_entry(full_disk, monkeypatch):
    folder, prepare = full_disk
    monkeypatch.setattr(cache, "_UNWRITABLE_REPORTED", set())
    prepare()
    with pytest.warns(UserWarning) as record:
        runs = [train_gan(GANConfig(**TINY | {"seed": s}), progress=False, results_root=folder) for s in range(2)]
    messages = [str(w.message) for w in record if "results cache" in str(w.message)]
    assert len(messages) == 1 and f"cannot write to {folder} (No space left on device)" in messages[0]
    assert "kept in memory only" in messages[0] and "unexpected pos" not in messages[0]
    assert all(not r.from_cache and r.final.shape == (20, 2) for r in runs)
    assert not list(folder.rglob("*.tmp")) and not list(folder.rglob("*.pt"))


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_honour_the_umask_and_replace_whole(umask, mode, tmp_path):
    previous = os.umask(umask)
    try:
        path = files.write_atomically(tmp_path / "sub" / "point.ipynb", "{}")  # a sweep point, a chapter, a page
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode and path.read_text() == "{}"
    with pytest.raises(ZeroDivisionError):  # a bug in the writer: raised as it is, the file unchanged
        files.write_atomically(path, lambda handle: (handle.write(b"half"), 1 / 0))
    assert path.read_text() == "{}" and [p.name for p in path.parent.iterdir()] == ["point.ipynb"]


def test_an_output_notebook_that_cannot_be_written_is_one_line_exit_1(tmp_path):
    root = make_project(tmp_path, "x = 1")
    out = tmp_path / "out"
    (out / "ch.ipynb").mkdir(parents=True)  # in the way even for root, whom permissions do not stop
    result = cli_in(root, "run", "ch", "--profile", "smoke", "--output-dir", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if "ch: FAILED" in line)
    assert f"cannot write {out / 'ch.ipynb'}: Is a directory" in line and "Fix: a folder of that name" in line
    assert scratch_folders(tmp_path) == []


@pytest.mark.parametrize("args, says", [
    (["-p", "seeds_original_code=[0, 0]"], "'seeds_original_code': [0, 0] (-p) repeats the seed 0"),
    (["-p", "geometric_view.seeds_paper_text=[3, 1, 3]"], "'seeds_paper_text': [3, 1, 3] (-p) repeats the seed 3"),
    (["--profile-file", "{dup}"], "'seeds_original_code': [1, 2, 1] (profile dup) repeats the seed 1")])
def test_duplicate_seeds_exit_2_naming_the_parameter_and_the_seed(args, says, tmp_path):
    dup = tmp_path / "dup.yml"
    dup.write_text("geometric_view:\n  seeds_original_code: [1, 2, 1]\n")
    args = [a.format(dup=dup) for a in args]
    result = cli("run", "geometric_view", *(["--profile", "smoke"] if "--profile-file" not in args else []), *args,
                 "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("grid, says", [("seeds_original_code=[[0, 1], [2, 2]]", "repeats the seed 2"),
                                        ("n_iter=[5, 6, 5]", "repeats the value 5")])
def test_duplicate_seeds_in_a_sweep_grid_exit_2(grid, says, tmp_path):
    result = cli("sweep", "geometric_view", "--profile", "smoke", "--grid", grid, "--scheduler", "none",
                 "--output-dir", str(tmp_path / "s"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines


def test_every_list_named_seeds_is_checked_and_other_lists_may_repeat(tmp_path):
    root = make_project(tmp_path, "x = 1", "n: int = 1\ngrid_seeds: list[int] = [0, 1]  # [0, 9]\n"
                                           "widths: list[int] = [8, 8]  # [1, 99]\n")
    with pytest.raises(ParameterError, match=r"'grid_seeds': \[4, 4\] \(-p\) repeats the seed 4"):
        profile_params.resolve_parameters(root, "ch", "smoke", profile_params.parse_overrides(["grid_seeds=[4, 4]"]))
    assert profile_params.resolve_parameters(root, "ch", "smoke", [])["widths"] == [8, 8]


@pytest.mark.parametrize("text, says", [
    ("geometric_veiw:\n  n_iter: 5\n", "'geometric_veiw' is not a chapter; did you mean 'geometric_view'?"),
    ("", "is empty, so it would run at the notebook's defaults"),
    ("level_set:\n  n_iter: 5\n", "has no entry for geometric_view, so it would run at the notebook's defaults")])
def test_a_profile_file_with_unknown_or_missing_chapters_exits_2(text, says, tmp_path):
    path = tmp_path / "mine.yml"
    path.write_text(text)
    result = cli("run", "geometric_view", "--profile-file", str(path), "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"profile file {path}" in lines[0] and says in lines[0], lines
    assert "chapters: geometric_view" in lines[0] or "--allow-defaults" in lines[0]
    if text != "geometric_veiw:\n  n_iter: 5\n":  # --allow-defaults lets a missing chapter through, never a typo
        profile_params.check_profile_chapters(ROOT, path, ["geometric_view"], allow_defaults=True)
    else:
        with pytest.raises(ParameterError, match="did you mean"):
            profile_params.check_profile_chapters(ROOT, path, ["geometric_view"], allow_defaults=True)


@pytest.mark.parametrize("profile", profile_params.profiles(ROOT))
def test_every_shipped_profile_names_every_chapter(profile):
    profile_params.check_profile_chapters(ROOT, profile, profile_params.chapters(ROOT))


def test_serve_on_a_busy_port_exits_1_and_on_no_port_exits_2_in_one_line(tmp_path):
    (tmp_path / "index.html").write_text("<html></html>")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("serve", "--dir", str(tmp_path), "--port", str(port))
    assert result.returncode == 1 and result.stderr.strip() == (
        f"lsgan-book: cannot serve on port {port}: Address already in use. Fix: choose another port with --port N "
        "(--port 0 picks a free one)")
    result = cli("serve", "--dir", str(tmp_path), "--port", "80000")
    assert result.returncode == 2 and result.stderr.strip() == (
        "lsgan-book: --port 80000 is not a port number: give one in [0, 65535] (0 picks a free one)")


def test_data_to_a_path_under_a_file_exits_2_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("data", "mnist", "--to", str(blocker / "x"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"lsgan-book data: --to {blocker / 'x'} cannot be created: Not a directory. "
                                     "Fix: give a folder whose parents are folders, not files")


def test_build_chapters_names_the_truncated_notebook_where_the_user_put_it(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for chapter in profile_params.chapters(ROOT):
        (runs / f"{chapter}.ipynb").write_text(executed([[]]))
    (runs / "level_set.ipynb").write_text(executed([[]])[:40])
    result = cli("build", "--chapters", str(runs), "--path-output", str(tmp_path / "site"))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{runs / 'level_set.ipynb'} is not a readable notebook" in lines[0]
    assert "site/book" not in lines[0] and not (runs / "site").exists()
    # an unpublished copy is not in git: the fix re-runs it into the same folder, never `git checkout`
    assert "git checkout" not in lines[0] and f"lsgan-book run level_set --output-dir {runs}" in lines[0]


def test_stale_scratch_folders_are_removed_by_name_age_and_owner(tmp_path):
    from lsgan_lib.book import publishing

    old = time.time() - 2 * 86400
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    layout = {"lsgan-run-dead": (dead, old), "lsgan-sweep-unowned": (None, old),
              "lsgan-kernel-live": (os.getpid(), old), "lsgan-run-recent": (dead, time.time()),
              "lsgan-other-x": (None, old), "someone-run-x": (None, old)}
    for name, (owner, mtime) in layout.items():
        (tmp_path / name).mkdir()
        if owner is not None:
            (tmp_path / name / publishing.SCRATCH_OWNER).write_text(str(owner))
        os.utime(tmp_path / name, (mtime, mtime))
    removed = publishing.remove_stale_scratch(tmp_path)
    assert sorted(p.name for p in removed) == ["lsgan-run-dead", "lsgan-sweep-unowned"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lsgan-kernel-live", "lsgan-other-x", "lsgan-run-recent",
                                                          "someone-run-x"]
    folder = publishing.scratch_folder("lsgan-sweep-")
    try:
        assert (folder / publishing.SCRATCH_OWNER).read_text() == str(os.getpid())
    finally:
        shutil.rmtree(folder)


def test_the_decode_cache_sees_a_dataset_file_changed_in_place_at_the_same_size(tmp_path, monkeypatch):
    path = tmp_path / "data" / "celeba" / "celeba64_subset.npz"
    path.parent.mkdir(parents=True)
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LSGAN_RESULTS", str(tmp_path / "results"))
    np.savez(path, x=np.zeros((5, 64, 64, 3), dtype=np.uint8))
    size = path.stat().st_size
    assert datasets.load_images("celeba", "all")[0].max() == -1.0
    np.savez(path, x=np.full((5, 64, 64, 3), 255, dtype=np.uint8))
    assert path.stat().st_size == size
    assert datasets.load_images("celeba", "all")[0].min() == 1.0  # decoded again, not served from the old decode
