"""Where the image datasets live, and the error when they are not there.

The root is ``$LSGAN_DATA`` when set, else ``data/`` in the project root. It is laid out like the offline copies in
``shared/data`` (see its README). Every loader resolves its files through :func:`dataset_file`, so a missing dataset
always fails the same way: one :class:`DatasetMissing` naming the path looked at and the two fixes. A file that is
there but cannot be decoded (truncated, overwritten) raises one :class:`DatasetCorrupt` naming the file, what the
known offline copy is (:data:`KNOWN_COPIES`: size and SHA-256, as in shared/data's README) and the fix. Archives are
read with ``allow_pickle=False``: a data file never runs code.

Loaders return float32 images scaled to [−1, 1] (the tanh range of the generators) as ``(N, channels, H, W)``, and
integer labels ``(N,)`` where the dataset has them. ``n`` takes the first ``n`` images of the split; the CIFAR-10
order interleaves the classes so any prefix is balanced. Decoded arrays are kept in the results cache
(``results/dataset/``) keyed by the SHA-256 of the files decoded (:data:`SOURCES`), so only the first load of a
dataset decodes its files, and a file replaced in place — even by one of the same size — is decoded again.

Adding a dataset: one entry in :data:`LAYOUT` and one ``_decode_<name>`` function in :data:`DECODERS`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .. import cache
from ..files import file_sha256

# dataset name → (file inside the root that proves it is there, the command that creates it)
LAYOUT: dict[str, tuple[str, str]] = {
    "mnist": ("mnist/MNIST/raw/train-images-idx3-ubyte.gz", "lsgan-book data mnist --to {root}"),
    "cifar10": ("cifar10/cifar10_jpeg.zip", "lsgan-book data cifar10 --to {root}"),
    "celeba": ("celeba/celeba64_subset.npz",
               "lsgan-book data celeba --to {root} --celeba-from /path/to/img_align_celeba.zip"),
}


# The offline copies of shared/data (its README's table): file under the data root → (size in bytes, SHA-256).
KNOWN_COPIES: dict[str, tuple[int, str]] = {
    "mnist/MNIST/raw/train-images-idx3-ubyte.gz":
        (9_912_422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "mnist/MNIST/raw/train-labels-idx1-ubyte.gz":
        (28_881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "mnist/MNIST/raw/t10k-images-idx3-ubyte.gz":
        (1_648_877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "mnist/MNIST/raw/t10k-labels-idx1-ubyte.gz":
        (4_542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    "celeba/celeba64_subset.npz": (56_479_408, "c2e6de10318676a1127893fb066de137f931db35dd3b9bf9aa70e8e5a46c04ca"),
    "cifar10/cifar10_jpeg.zip": (62_190_935, "ad20075fc5d761cb1545aa313752ecc67cdb288bc8d01abc2128e7de0ddfedb5"),
}


class DatasetMissing(FileNotFoundError):
    """A dataset's files are not where ``LSGAN_DATA`` says they are."""


class DatasetCorrupt(ValueError):
    """A dataset file is there but cannot be decoded (truncated, overwritten, or not the expected format)."""


def corrupt_message(path: Path, problem: str) -> str:
    """The :class:`DatasetCorrupt` message: the file, what is wrong, what the known offline copy is, and the fix."""
    try:
        relative = path.resolve().relative_to(data_root().resolve()).as_posix()
    except ValueError:
        relative = path.name
    size = path.stat().st_size if path.exists() else 0
    known = KNOWN_COPIES.get(relative)
    expected = (f"the offline copy is {known[0]:,} bytes with sha256 {known[1]}, this file is {size:,} bytes"
                if known else f"this file is {size:,} bytes")
    return (f"dataset file {path} is corrupt ({problem}): {expected}. Fix: copy {relative} again from shared/data "
            f"(check it with `python3 shared/data/verify.py`) or download it again")


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Decode ``path`` inside this block: any decoding failure becomes one :class:`DatasetCorrupt` naming it (and
    never numpy's advice to allow pickles)."""
    try:
        yield
    except DatasetCorrupt:
        raise
    except (EOFError, OSError, zipfile.BadZipFile, zlib.error, ValueError, KeyError, IndexError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        problem = type(error).__name__
        if "pickle" not in str(error):
            problem += f": {str(error).splitlines()[0][:200]}" if str(error) else ""
        else:
            problem += ": not a numpy archive"
        raise DatasetCorrupt(corrupt_message(path, problem)) from None


def data_root() -> Path:
    """``$LSGAN_DATA`` if set, else ``<project root>/data``."""
    if os.environ.get("LSGAN_DATA"):
        return Path(os.environ["LSGAN_DATA"]).expanduser()
    return Path(__file__).resolve().parents[2] / "data"


def dataset_file(name: str, relative: str | None = None) -> Path:
    """The file that holds dataset ``name`` under :func:`data_root` (or its file ``relative`` to the root);
    :class:`DatasetMissing` if it is absent."""
    if name not in LAYOUT:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(LAYOUT))}")
    default, download = LAYOUT[name]
    root = data_root()
    path = root / (relative or default)
    if not path.is_file():
        source = "LSGAN_DATA" if os.environ.get("LSGAN_DATA") else "the default data/ folder (LSGAN_DATA is unset)"
        raise DatasetMissing(
            f"dataset {name!r} not found: looked for {path} under {source}. Fix: create it with "
            f"`{download.format(root=root)}` (downloads and verifies it; see `lsgan-book data --help`), or point "
            f"LSGAN_DATA at a folder that has it (export LSGAN_DATA=/path/to/data)")
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Decoders: files → uint8 images (N, C, H, W) and int64 labels (N,) (empty when the dataset has none).
# ---------------------------------------------------------------------------------------------------------------------

SPLITS: dict[str, tuple[str, ...]] = {"mnist": ("train", "test"), "cifar10": ("train", "test"),
                                      "celeba": ("train", "val", "all")}
CELEBA_VAL_SHARE = 0.2  # the last 20% of the subset is held out (the latent-space paper holds out 20%)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX file (gzip-compressed) as a uint8 array: ``(N, 28, 28)`` for images (2051), ``(N,)`` for labels (2049)."""
    with reading(path):
        raw = gzip.decompress(path.read_bytes())
        found = int.from_bytes(raw[:4], "big")
        if found != magic:
            raise DatasetCorrupt(corrupt_message(path, f"not an IDX file of the expected kind (magic {found}, "
                                                       f"expected {magic})"))
        ndim = raw[3]
        shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _decode_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(dataset_file("mnist", f"mnist/MNIST/raw/{prefix}-images-idx3-ubyte.gz"), 2051)
    labels = _read_idx(dataset_file("mnist", f"mnist/MNIST/raw/{prefix}-labels-idx1-ubyte.gz"), 2049)
    return images[:, None], labels.astype(np.int64)


def _decode_cifar10(split: str) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    path = dataset_file("cifar10")
    with reading(path), zipfile.ZipFile(path) as archive:
        per_class = [sorted(n for n in archive.namelist() if n.startswith(f"{split}/{c}/") and n.endswith(".jpg"))
                     for c in CIFAR10_CLASSES]
        if len({len(names) for names in per_class}) != 1 or not per_class[0]:
            raise DatasetCorrupt(corrupt_message(path, f"it does not hold the expected {split}/<class>/NNNN.jpg "
                                                       "layout with equal class sizes"))
        # Interleave the classes (image i of class c at position 10 i + c) so any prefix is balanced.
        names = [per_class[c][i] for i in range(len(per_class[0])) for c in range(len(CIFAR10_CLASSES))]
        images = np.stack([np.asarray(Image.open(io.BytesIO(archive.read(n))).convert("RGB")) for n in names])
    labels = np.tile(np.arange(len(CIFAR10_CLASSES), dtype=np.int64), len(per_class[0]))
    return images.transpose(0, 3, 1, 2), labels


def _decode_celeba(split: str) -> tuple[np.ndarray, np.ndarray]:
    path = dataset_file("celeba")
    with reading(path):
        with np.load(path, allow_pickle=False) as archive:
            images = archive["x"]
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise DatasetCorrupt(corrupt_message(path, f"'x' is {images.dtype} {images.shape}, not uint8 "
                                                       "(N, 64, 64, 3)"))
    cut = int(round(len(images) * (1 - CELEBA_VAL_SHARE)))
    images = {"train": images[:cut], "val": images[cut:], "all": images}[split]
    return images.transpose(0, 3, 1, 2), np.zeros(0, dtype=np.int64)


DECODERS = {"mnist": _decode_mnist, "cifar10": _decode_cifar10, "celeba": _decode_celeba}
# dataset → split → the files (relative to the data root) its decoder reads: what the decode cache is keyed by
SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "mnist": {split: tuple(f"mnist/MNIST/raw/{prefix}-{kind}-idx{dims}-ubyte.gz" for kind, dims in
                           (("images", 3), ("labels", 1)))
              for split, prefix in (("train", "train"), ("test", "t10k"))},
    "cifar10": {split: (LAYOUT["cifar10"][0],) for split in SPLITS["cifar10"]},
    "celeba": {split: (LAYOUT["celeba"][0],) for split in SPLITS["celeba"]},
}


def decode_key(name: str, split: str) -> dict:
    """The decode cache's key of dataset ``name``'s ``split``: the SHA-256 of each file its decoder reads (so equal
    contents share an entry wherever they lie, and a changed file is decoded again)."""
    return {"dataset": name, "split": split,
            "sha256": {relative: file_sha256(dataset_file(name, relative)) for relative in SOURCES[name][split]}}


def _check_decoded(payload: dict) -> None:
    """A cached decoded dataset must hold uint8 images ``(N, C, H, W)`` and int64 labels."""
    images, labels = payload["images"], payload["labels"]
    if not (isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and images.dim() == 4):
        raise ValueError("'images' is not a uint8 tensor (N, C, H, W)")
    if not (isinstance(labels, torch.Tensor) and labels.dtype == torch.int64):
        raise ValueError("'labels' is not an int64 tensor")


def load_images(name: str, split: str = "train", n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Dataset ``name``'s ``split`` as float32 images in [−1, 1] ``(N, C, H, W)`` and int64 labels ``(N,)``.

    MNIST: ``(N, 1, 28, 28)``, splits train (60,000) and test (10,000). CIFAR-10 (the lossy JPEG copy of
    shared/data): ``(N, 3, 32, 32)``, train (50,000) and test (10,000). CelebA (the 5,000-image 64×64 subset):
    ``(N, 3, 64, 64)``, train (the first 80%), val (the last 20%) or all; no labels (an empty tensor).
    ``n`` keeps the first ``n`` images. A missing dataset raises :class:`DatasetMissing`.
    """
    if name not in DECODERS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DECODERS))}")
    if split not in SPLITS[name]:
        raise ValueError(f"dataset {name!r} has splits {SPLITS[name]}, not {split!r}")
    if n is not None and n < 1:
        raise ValueError(f"load_images: n must be >= 1 or None, got {n}")
    key = decode_key(name, split)  # raises DatasetMissing before anything is cached

    def decode() -> dict:
        images, labels = DECODERS[name](split)
        return {"images": torch.from_numpy(np.array(images)), "labels": torch.from_numpy(np.array(labels))}

    payload, _ = cache.cached("dataset", key, decode, check=_check_decoded)
    images, labels = payload["images"], payload["labels"]
    if n is not None:
        images, labels = images[:n], labels[:n]
    return images.float().div_(127.5).sub_(1.0), labels
