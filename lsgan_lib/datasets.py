"""Where the image datasets live, and the error when they are not there.

The root is ``$LSGAN_DATA`` when set, else ``data/`` in the project root. It is laid out like the offline copies in
``shared/data`` (see its README). The loaders themselves arrive with the chapters that need them; every one of them
resolves its files through :func:`dataset_file`, so a missing dataset always fails the same way: one
:class:`DatasetMissing` naming the path looked at and the two fixes.
"""

from __future__ import annotations

import os
from pathlib import Path

# dataset name → (file inside the root that proves it is there, how to get it with internet access)
LAYOUT: dict[str, tuple[str, str]] = {
    "mnist": ("mnist/MNIST/raw/train-images-idx3-ubyte.gz",
              "python -c \"import torchvision; torchvision.datasets.MNIST('{root}/mnist', download=True)\""),
    "cifar10": ("cifar10/cifar10_jpeg.zip",
                "copy cifar10/cifar10_jpeg.zip from shared/data (torchvision's CIFAR10 download is not this layout)"),
    "celeba": ("celeba/celeba64_subset.npz",
               "copy celeba/celeba64_subset.npz from shared/data (see its README for how it was made)"),
}


class DatasetMissing(FileNotFoundError):
    """A dataset's files are not where ``LSGAN_DATA`` says they are."""


def data_root() -> Path:
    """``$LSGAN_DATA`` if set, else ``<project root>/data``."""
    if os.environ.get("LSGAN_DATA"):
        return Path(os.environ["LSGAN_DATA"]).expanduser()
    return Path(__file__).resolve().parent.parent / "data"


def dataset_file(name: str) -> Path:
    """The file that holds dataset ``name`` under :func:`data_root`; :class:`DatasetMissing` if it is absent."""
    if name not in LAYOUT:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(LAYOUT))}")
    relative, download = LAYOUT[name]
    root = data_root()
    path = root / relative
    if not path.is_file():
        source = "LSGAN_DATA" if os.environ.get("LSGAN_DATA") else "the default data/ folder (LSGAN_DATA is unset)"
        raise DatasetMissing(
            f"dataset {name!r} not found: looked for {path} under {source}. Fix: point LSGAN_DATA at a folder laid "
            f"out like shared/data (export LSGAN_DATA=/path/to/shared/data), or get it with: "
            f"{download.format(root=root)}")
    return path
