"""Where the image datasets live, and the error when they are not there.

The root is ``$LSGAN_DATA`` when set, else ``data/`` in the project root. It is laid out like the offline copies in
``shared/data`` (see its README). Every loader resolves its files through :func:`dataset_file`, so a missing dataset
always fails the same way: one :class:`DatasetMissing` naming the path looked at and the two fixes.

Loaders return float32 images scaled to [−1, 1] (the tanh range of the generators) as ``(N, channels, H, W)``, and
integer labels ``(N,)`` where the dataset has them. ``n`` takes the first ``n`` images of the split; the CIFAR-10
order interleaves the classes so any prefix is balanced. Decoded arrays are kept in the results cache
(``results/dataset/``), so only the first load of a dataset decodes its files.

Adding a dataset: one entry in :data:`LAYOUT` and one ``_decode_<name>`` function in :data:`DECODERS`.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import cache

# dataset name → (file inside the root that proves it is there, the command that creates it)
LAYOUT: dict[str, tuple[str, str]] = {
    "mnist": ("mnist/MNIST/raw/train-images-idx3-ubyte.gz", "lsgan-book data mnist --to {root}"),
    "cifar10": ("cifar10/cifar10_jpeg.zip", "lsgan-book data cifar10 --to {root}"),
    "celeba": ("celeba/celeba64_subset.npz",
               "lsgan-book data celeba --to {root} --celeba-from /path/to/img_align_celeba.zip"),
}


class DatasetMissing(FileNotFoundError):
    """A dataset's files are not where ``LSGAN_DATA`` says they are."""


def data_root() -> Path:
    """``$LSGAN_DATA`` if set, else ``<project root>/data``."""
    if os.environ.get("LSGAN_DATA"):
        return Path(os.environ["LSGAN_DATA"]).expanduser()
    return Path(__file__).resolve().parent.parent / "data"


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
    raw = gzip.decompress(path.read_bytes())
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(f"{path} is not an IDX file of the expected kind (magic {found}, expected {magic}); "
                         "replace it with the original from shared/data (check it with shared/data/verify.py)")
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

    with zipfile.ZipFile(dataset_file("cifar10")) as archive:
        per_class = [sorted(n for n in archive.namelist() if n.startswith(f"{split}/{c}/") and n.endswith(".jpg"))
                     for c in CIFAR10_CLASSES]
        if len({len(names) for names in per_class}) != 1 or not per_class[0]:
            raise ValueError(f"{dataset_file('cifar10')} does not hold the expected {split}/<class>/NNNN.jpg layout "
                             "with equal class sizes; replace it with the copy in shared/data")
        # Interleave the classes (image i of class c at position 10 i + c) so any prefix is balanced.
        names = [per_class[c][i] for i in range(len(per_class[0])) for c in range(len(CIFAR10_CLASSES))]
        images = np.stack([np.asarray(Image.open(io.BytesIO(archive.read(n))).convert("RGB")) for n in names])
    labels = np.tile(np.arange(len(CIFAR10_CLASSES), dtype=np.int64), len(per_class[0]))
    return images.transpose(0, 3, 1, 2), labels


def _decode_celeba(split: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(dataset_file("celeba")) as archive:
        images = archive["x"]
    cut = int(round(len(images) * (1 - CELEBA_VAL_SHARE)))
    images = {"train": images[:cut], "val": images[cut:], "all": images}[split]
    return images.transpose(0, 3, 1, 2), np.zeros(0, dtype=np.int64)


DECODERS = {"mnist": _decode_mnist, "cifar10": _decode_cifar10, "celeba": _decode_celeba}


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
    source = dataset_file(name)  # raises DatasetMissing before anything is cached
    key = {"dataset": name, "split": split, "source": str(source.resolve()), "bytes": source.stat().st_size}

    def decode() -> dict:
        images, labels = DECODERS[name](split)
        return {"images": torch.from_numpy(np.array(images)), "labels": torch.from_numpy(np.array(labels))}

    payload, _ = cache.cached("dataset", key, decode)
    images, labels = payload["images"], payload["labels"]
    if n is not None:
        images, labels = images[:n], labels[:n]
    return images.float().div_(127.5).sub_(1.0), labels
