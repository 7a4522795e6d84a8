"""``lsgan-book data`` on small fixtures: torchvision's downloader is replaced by one that copies local files, so no
test touches the network. The conversions, the layout the loaders read, and the checks that refuse bad files."""

import gzip
import hashlib
import pickle
import shutil
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import utils as tv_utils

from lsgan_lib.data import download as data_setup
from lsgan_lib.data import images as datasets
from lsgan_lib.book.cli import main


def idx_gz(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture
def mnist_mirror(tmp_path, monkeypatch):
    """Four tiny IDX files served by a fake ``download_url``; KNOWN_COPIES records their sizes and sha256."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        idx_gz(mirror / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)), 2051)
        idx_gz(mirror / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10, 2049)
    calls = []

    def download_url(url, root, filename=None, md5=None, **_):
        calls.append(url)
        shutil.copy(mirror / url.rsplit("/", 1)[1], f"{root}/{filename}")

    monkeypatch.setattr(tv_utils, "download_url", download_url)
    copies = dict(data_setup.KNOWN_COPIES)
    for relative in data_setup.MNIST_FILES:
        file = mirror / relative.rsplit("/", 1)[1]
        copies[relative] = (file.stat().st_size, hashlib.sha256(file.read_bytes()).hexdigest())
    monkeypatch.setattr(data_setup, "KNOWN_COPIES", copies)
    return calls


def test_mnist_is_downloaded_verified_and_readable_by_the_loader(tmp_path, monkeypatch, mnist_mirror, capsys):
    root = tmp_path / "data"
    assert main(["data", "mnist", "--to", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.count("  mnist: mnist/MNIST/raw/") == 4 and "identical to the offline copy" in out
    assert len(mnist_mirror) == 4
    monkeypatch.setenv("LSGAN_DATA", str(root))
    images, labels = datasets.load_images("mnist", "test")
    assert images.shape == (10, 1, 28, 28) and labels.tolist() == list(range(10))
    # run again: nothing is downloaded, everything is verified
    assert main(["data", "mnist", "--to", str(root)]) == 0 and len(mnist_mirror) == 4
    assert "already there" in capsys.readouterr().out


def test_a_corrupt_mnist_file_is_refused_naming_it_and_the_fix(tmp_path, mnist_mirror, capsys):
    root = tmp_path / "data"
    assert main(["data", "mnist", "--to", str(root)]) == 0
    (root / "mnist/MNIST/raw/t10k-labels-idx1-ubyte.gz").write_bytes(b"not mnist")
    capsys.readouterr()
    assert main(["data", "mnist", "--to", str(root)]) == 1
    err = capsys.readouterr().err
    assert "t10k-labels-idx1-ubyte.gz" in err and "expected" in err and "delete it" in err


def test_the_real_mnist_checksums_refuse_a_fixture(tmp_path, monkeypatch):
    """Without the fixture's checksums, the recorded originals' sha256 refuse the fake files."""
    raw = tmp_path / "mnist/MNIST/raw"
    raw.mkdir(parents=True)
    for relative in data_setup.MNIST_FILES:
        (tmp_path / relative).write_bytes(b"x")
    with pytest.raises(data_setup.DataSetupError, match="sha256"):
        data_setup.verify_mnist(tmp_path)


def cifar_batches(folder, per_class):
    folder.mkdir(parents=True)
    names = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    for split, files in names.items():
        for name in files:
            labels = np.repeat(np.arange(10), per_class[split] // len(files))
            data = np.full((len(labels), 3 * 32 * 32), 128, dtype=np.uint8)
            data[:, :1024] = (labels * 25)[:, None]  # the red channel encodes the class
            with open(folder / name, "wb") as handle:
                pickle.dump({"data": data, "labels": labels.tolist()}, handle)


def test_cifar10_is_converted_to_the_offline_layout(tmp_path, monkeypatch, capsys):
    per_class = {"train": 5, "test": 1}
    monkeypatch.setattr(data_setup, "CIFAR10_PER_CLASS", per_class)

    def download_and_extract_archive(url, download_root, filename=None, md5=None, **_):
        assert md5 == "c58f30108f718f92721af3b95e74349a"  # torchvision's md5 goes to its downloader
        cifar_batches(tmp_path / download_root / "cifar-10-batches-py", per_class)

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", download_and_extract_archive)
    root = tmp_path / "data"
    assert main(["data", "cifar10", "--to", str(root)]) == 0
    out = capsys.readouterr().out
    assert "cifar10_jpeg.zip" in out and "content verified" in out
    with zipfile.ZipFile(root / "cifar10/cifar10_jpeg.zip") as archive:
        names = archive.namelist()
        assert names == sorted(names) and "train/truck/0004.jpg" in names and len(names) == 60
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    monkeypatch.setenv("LSGAN_DATA", str(root))
    images, labels = datasets.load_images("cifar10", "test")
    assert images.shape == (10, 3, 32, 32) and labels.tolist() == list(range(10))
    red = images[:, 0].mean(dim=(1, 2))  # the class survives JPEG: red level 25·c, in [−1, 1]
    assert torch.allclose(red, torch.arange(10) * 25 / 127.5 - 1, atol=0.05)


def test_a_cifar10_zip_with_a_missing_class_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(data_setup, "CIFAR10_PER_CLASS", {"train": 1, "test": 1})
    target = tmp_path / "cifar10/cifar10_jpeg.zip"
    target.parent.mkdir()
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("train/airplane/0000.jpg", b"")
    with pytest.raises(data_setup.DataSetupError, match="0 images in train/automobile"):
        data_setup.verify_cifar10(tmp_path)


def celeba_folder(folder, n, size=(178, 218)):
    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        image = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        image[..., 0] = 10 * i
        Image.fromarray(image).save(folder / f"{i:06d}.jpg", quality=95)


@pytest.mark.parametrize("as_zip", [False, True])
def test_celeba_subset_from_a_folder_or_an_archive(tmp_path, monkeypatch, as_zip):
    n = 6
    celeba_folder(tmp_path / "img_align_celeba", n + 2)
    source = tmp_path
    if as_zip:
        source = tmp_path / "img_align_celeba.zip"
        with zipfile.ZipFile(source, "w") as archive:
            for file in sorted((tmp_path / "img_align_celeba").iterdir()):
                archive.write(file, f"img_align_celeba/{file.name}")
    reports = data_setup.setup_celeba(tmp_path / "data", source, n=n)
    assert reports[0].path.name == "celeba64_subset.npz"
    with np.load(tmp_path / "data/celeba/celeba64_subset.npz") as archive:
        x, names = archive["x"], archive["filenames"]
    assert x.shape == (n, 64, 64, 3) and x.dtype == np.uint8 and names.tolist()[0] == "000001.jpg"
    assert np.allclose(x[:, 32, 32, 0], 10 * np.arange(1, n + 1), atol=3)


def test_celeba_refuses_images_that_are_not_aligned_celeba(tmp_path):
    celeba_folder(tmp_path / "faces", 2, size=(100, 100))
    with pytest.raises(data_setup.DataSetupError, match="not an aligned CelebA image"):
        data_setup.celeba_subset(tmp_path / "faces", n=2)
    with pytest.raises(data_setup.DataSetupError, match="lacks 1 of the first 3"):
        data_setup.celeba_subset(tmp_path / "faces", n=3)


def test_celeba_without_a_source_names_where_to_get_it(tmp_path, capsys):
    assert main(["data", "celeba", "--to", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Google Drive" in err and "--celeba-from" in err and "img_align_celeba.zip" in err
    # --if-missing (make book): reported, not an error
    assert main(["data", "celeba", "--to", str(tmp_path), "--if-missing"]) == 0
    assert "not set up" in capsys.readouterr().out


def test_unknown_datasets_are_refused_and_no_name_means_all(tmp_path, capsys, monkeypatch):
    assert main(["data", "imagenet", "--to", str(tmp_path)]) == 2
    assert "unknown dataset(s) imagenet" in capsys.readouterr().err
    seen = []
    monkeypatch.setattr(data_setup, "prepare", lambda names, *args: seen.append(names) or 0)
    assert main(["data", "--to", str(tmp_path)]) == 0 and seen == [["mnist", "cifar10", "celeba"]]
