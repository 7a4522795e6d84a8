"""Binder's environment.yml and the pins: its pip part must resolve, in a fresh virtual environment, to exactly the
versions of constraints.txt (the same set `make setup` installs)."""

import json
import re
import subprocess
import sys
import venv

import yaml

from .conftest import ROOT


def pins():
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return dict(re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", l).groups() for l in lines if l and not l.startswith("#"))


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_environment_yml_uses_the_pins_and_the_cpu_build_of_torch():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-c constraints.txt" in pip and "-e ." in pip
    assert any(line.startswith("--extra-index-url") and "download.pytorch.org/whl/cpu" in line for line in pip)
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == f"python={sys.version_info.major}.{sys.version_info.minor}", "pins were made on this Python"


def test_the_pip_part_resolves_to_the_pinned_versions_in_a_fresh_venv(tmp_path):
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    args = []
    for line in pip:
        if line.startswith("--extra-index-url"):
            continue  # the PyTorch CPU index is not reachable from CI; PyPI's torch of the same version stands in
        args += line.split(maxsplit=1)
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    report = tmp_path / "report.json"
    result = subprocess.run([str(python), "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                             "--disable-pip-version-check", "--report", str(report), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = {normalise(item["metadata"]["name"]): item["metadata"]["version"]
                for item in json.loads(report.read_text())["install"]}
    pinned = {normalise(k): v for k, v in pins().items()}
    for name in ("torch", "torchvision", "jupyter-book", "papermill", "ipywidgets", "matplotlib", "numpy", "dask",
                 "distributed"):
        assert resolved[name] == pinned[name], name
    unpinned = sorted(n for n in resolved if n not in pinned and n != "lsgan-lib")
    assert not unpinned, f"resolved packages missing from constraints.txt: {unpinned}"
    drifted = {n: (v, pinned[n]) for n, v in resolved.items() if n in pinned and v != pinned[n]}
    assert not drifted, drifted
