import pytest

from lsgan_lib import datasets


def test_missing_dataset_names_the_path_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path))
    with pytest.raises(datasets.DatasetMissing) as error:
        datasets.dataset_file("mnist")
    message = str(error.value)
    assert str(tmp_path / "mnist/MNIST/raw/train-images-idx3-ubyte.gz") in message
    assert "LSGAN_DATA" in message and "download=True" in message


def test_unset_lsgan_data_says_so(monkeypatch):
    monkeypatch.delenv("LSGAN_DATA", raising=False)
    with pytest.raises(datasets.DatasetMissing, match="LSGAN_DATA is unset"):
        datasets.dataset_file("celeba")


def test_dataset_found_under_lsgan_data(tmp_path, monkeypatch):
    target = tmp_path / "celeba" / "celeba64_subset.npz"
    target.parent.mkdir()
    target.write_bytes(b"")  # only the path resolution is under test here
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path))
    assert datasets.dataset_file("celeba") == target


def test_unknown_dataset():
    with pytest.raises(KeyError, match="mnist"):
        datasets.dataset_file("imagenet")


def test_the_shared_offline_copies_resolve_when_present():
    import os
    from pathlib import Path

    if not os.environ.get("LSGAN_DATA") or not Path(os.environ["LSGAN_DATA"]).is_dir():
        pytest.skip("LSGAN_DATA is not set (CI sets it to ../shared/data)")
    for name in datasets.LAYOUT:
        assert datasets.dataset_file(name).stat().st_size > 1000
