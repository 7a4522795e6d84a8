from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_results(tmp_path, monkeypatch):
    """Every test writes its results cache into its own temporary folder, never into the project's results/."""
    monkeypatch.setenv("LSGAN_RESULTS", str(tmp_path / "results"))
    yield


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)
