import gzip
import os
from pathlib import Path

import pytest
import torch

from lsgan_lib.data import images as datasets


def test_missing_dataset_names_the_path_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path))
    with pytest.raises(datasets.DatasetMissing) as error:
        datasets.dataset_file("mnist")
    message = str(error.value)
    assert str(tmp_path / "mnist/MNIST/raw/train-images-idx3-ubyte.gz") in message
    assert "LSGAN_DATA" in message and f"lsgan-book data mnist --to {tmp_path}" in message


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


def shared_data():
    if not os.environ.get("LSGAN_DATA") or not Path(os.environ["LSGAN_DATA"]).is_dir():
        pytest.skip("LSGAN_DATA is not set (CI sets it to ../shared/data)")


def test_the_shared_offline_copies_resolve_when_present():
    shared_data()
    for name in datasets.LAYOUT:
        assert datasets.dataset_file(name).stat().st_size > 1000


@pytest.mark.parametrize("name, split, n, shape", [("mnist", "test", 10_000, (1, 28, 28)),
                                                   ("celeba", "val", 1_000, (3, 64, 64)),
                                                   ("cifar10", "test", 10_000, (3, 32, 32))])
def test_loaders_read_the_offline_copies(name, split, n, shape):
    shared_data()
    images, labels = datasets.load_images(name, split)
    assert images.shape == (n, *shape) and images.dtype == torch.float32
    assert images.min().item() == -1.0 and images.max().item() == 1.0
    if name == "celeba":
        assert labels.numel() == 0
    else:  # MNIST's and CIFAR-10's test sets have 1,000 images per class
        counts = torch.bincount(labels, minlength=10)
        assert counts.min().item() >= 890 and counts.sum().item() == n
    first, first_labels = datasets.load_images(name, split, n=20)  # a prefix, from the decoded cache
    assert torch.equal(first, images[:20]) and torch.equal(first_labels, labels[:20])


def test_mnist_pixels_match_the_data_readme():
    shared_data()
    images, labels = datasets.load_images("mnist", "test")
    pixel_sum = ((images + 1) * 127.5).round().to(torch.int64).sum().item()
    assert pixel_sum == 264_923_200  # shared/data/README.md's content check of t10k
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_cifar_prefixes_are_balanced():
    shared_data()
    _, labels = datasets.load_images("cifar10", "test", n=50)
    assert torch.bincount(labels).tolist() == [5] * 10


def test_loading_a_missing_dataset_raises_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path))
    with pytest.raises(datasets.DatasetMissing, match="cifar10_jpeg.zip"):
        datasets.load_images("cifar10")
    with pytest.raises(ValueError, match="splits"):
        datasets.load_images("celeba", "test")


def test_a_corrupt_idx_file_is_named(tmp_path, monkeypatch):
    raw = tmp_path / "mnist/MNIST/raw"
    raw.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / f"{stem}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + bytes(8)))
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="not an IDX file of the expected kind"):
        datasets.load_images("mnist")
