"""``lsgan-book data``: create the image datasets' folder the chapters read (the layout of the offline copies in
``shared/data``), with sizes and checksums printed and verified.

    lsgan-book data [mnist|cifar10|celeba|all ...] [--to DIR] [--celeba-from PATH] [--if-missing]

- **MNIST**: the four original ``.gz`` files through torchvision's downloader (its mirrors and md5s), kept as they
  are (``mnist/MNIST/raw/*.gz``) and checked against the offline copies' sha256 (they are byte-identical).
- **CIFAR-10**: torchvision's ``cifar-10-python.tar.gz`` (md5-checked by torchvision), converted to the offline copy's
  file ``cifar10/cifar10_jpeg.zip``: a stored zip of ``train|test/<class>/NNNN.jpg`` (5,000 and 1,000 per class, the
  original order within each class), JPEG at quality 75 like the offline copy, which is a lossy re-encoding too. The
  bytes differ from the offline copy (a different encoder made it), so this file is checked by content: counts per
  class and split, image size.
- **CelebA**: ``celeba/celeba64_subset.npz`` — the first 5,000 aligned images (``img_align_celeba``), centre crop 140
  × 140, bicubic resize to 64 × 64, as the offline copy was made (its README). torchvision's CelebA download goes
  through Google Drive (needs ``gdown``; it fails often on the Drive's download quota), so this step takes the images
  from a folder or the ``img_align_celeba.zip`` archive the user has (``--celeba-from``; the CelebA page,
  https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, links the archive). The subset is checked by content (shape,
  file names); the offline copy's checksum cannot match (it was made from half-resolution copies).

A file already there is verified, not replaced. ``--if-missing`` (what ``make book`` uses) sets up only what is
absent and reports, without failing, a dataset that needs a file from the user.
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import WriteFailed, file_sha256, write_atomically
from .images import CIFAR10_CLASSES, KNOWN_COPIES, LAYOUT, data_root

DATASETS = ("mnist", "cifar10", "celeba")
MNIST_FILES = [name for name in KNOWN_COPIES if name.startswith("mnist/")]
CIFAR10_PER_CLASS = {"train": 5000, "test": 1000}
CIFAR10_JPEG_QUALITY = 75
CELEBA_SUBSET = 5000
CELEBA_SIZE = 64
CELEBA_ALIGNED = (178, 218)  # width, height of img_align_celeba
CELEBA_CROP = (19, 39, 159, 179)  # the centred 140 × 140 box of an aligned image
CELEBA_ARCHIVE_MD5 = "00d2c5bc6d35e252742224ab0c1e8fcb"  # img_align_celeba.zip, as torchvision lists it


class DataSetupError(RuntimeError):
    """A dataset could not be created or verified; the message names the file and the fix."""


class NeedsSource(DataSetupError):
    """A dataset that no downloader can fetch reliably, and no source was given for it."""


@dataclass(frozen=True)
class FileReport:
    path: Path
    size: int
    sha256: str
    note: str


def _report(path: Path, relative: str, note: str) -> FileReport:
    digest = file_sha256(path)
    known = KNOWN_COPIES.get(relative)
    if known is not None and known[1] == digest:
        note = "identical to the offline copy; " + note
    return FileReport(path, path.stat().st_size, digest, note)


# ---------------------------------------------------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------------------------------------------------


def verify_mnist(root: Path) -> list[FileReport]:
    """Each of the four files against the offline copies' size and sha256 (torchvision's originals)."""
    reports = []
    for relative in MNIST_FILES:
        path = root / relative
        if not path.is_file():
            raise DataSetupError(f"{path} is missing. Fix: `lsgan-book data mnist --to {root}`")
        size, expected = KNOWN_COPIES[relative]
        found = file_sha256(path)
        if path.stat().st_size != size or found != expected:
            raise DataSetupError(f"{path}: {path.stat().st_size:,} bytes, sha256 {found}; expected {size:,} bytes, "
                                 f"sha256 {expected}. Fix: delete it and run `lsgan-book data mnist --to {root}`")
        reports.append(FileReport(path, size, found, "identical to the offline copy, torchvision's original: size and "
                                  "sha256 verified"))
    return reports


def setup_mnist(root: Path) -> list[FileReport]:
    """Download the missing MNIST files with torchvision's downloader (mirrors and md5s of
    ``torchvision.datasets.MNIST``) into ``root/mnist/MNIST/raw``, then :func:`verify_mnist`."""
    from torchvision.datasets import MNIST
    from torchvision.datasets import utils as tv_utils

    raw = root / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for filename, md5 in MNIST.resources:
        if (raw / filename).is_file():
            continue
        errors = []
        for mirror in MNIST.mirrors:
            try:
                tv_utils.download_url(f"{mirror}{filename}", str(raw), filename, md5)
                break
            except Exception as error:  # the next mirror; all errors are reported below
                errors.append(f"{mirror}: {type(error).__name__}: {error}")
                (raw / filename).unlink(missing_ok=True)
        else:
            raise DataSetupError(f"could not download {filename} from torchvision's MNIST mirrors ({'; '.join(errors)})"
                                 f". Fix: check the internet connection, or copy mnist/MNIST/raw/*.gz from a machine "
                                 f"that has them into {raw}")
    return verify_mnist(root)


# ---------------------------------------------------------------------------------------------------------------------
# CIFAR-10
# ---------------------------------------------------------------------------------------------------------------------


def read_cifar10_batches(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """torchvision's ``cifar-10-batches-py`` folder as split → (images ``(N, 32, 32, 3)`` uint8, labels ``(N,)``)."""
    splits = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    result = {}
    for split, names in splits.items():
        images, labels = [], []
        for name in names:
            with open(folder / name, "rb") as handle:
                batch = pickle.load(handle, encoding="latin1")
            images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(batch["labels"], dtype=np.int64))
        result[split] = (np.concatenate(images), np.concatenate(labels))
    return result


def write_cifar10_zip(splits: dict[str, tuple[np.ndarray, np.ndarray]], target: Path) -> None:
    """The offline copy's layout: a stored zip of ``<split>/<class>/NNNN.jpg`` (numbering per class, in the order
    given), names sorted, JPEG at :data:`CIFAR10_JPEG_QUALITY`. Written atomically (whole or not at all)."""
    from PIL import Image

    entries = []
    for split, (images, labels) in splits.items():
        for c, name in enumerate(CIFAR10_CLASSES):
            for i, image in enumerate(images[labels == c]):
                entries.append((f"{split}/{name}/{i:04d}.jpg", image))

    def write(handle) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, image in sorted(entries, key=lambda e: e[0]):
                buffer = io.BytesIO()
                Image.fromarray(image).save(buffer, format="JPEG", quality=CIFAR10_JPEG_QUALITY)
                archive.writestr(name, buffer.getvalue())

    write_atomically(target, write)


def verify_cifar10(root: Path, per_class: dict[str, int] | None = None) -> list[FileReport]:
    """The zip holds ``per_class`` images (default 5,000 train, 1,000 test) of every class, 32 × 32 RGB."""
    from PIL import Image

    per_class = per_class or CIFAR10_PER_CLASS
    path = root / LAYOUT["cifar10"][0]
    if not path.is_file():
        raise DataSetupError(f"{path} is missing. Fix: `lsgan-book data cifar10 --to {root}`")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".jpg")]
            for split, count in per_class.items():
                for name in CIFAR10_CLASSES:
                    found = sum(n.startswith(f"{split}/{name}/") for n in names)
                    if found != count:
                        raise DataSetupError(f"{path}: {found} images in {split}/{name}/, expected {count}. Fix: "
                                             f"delete it and run `lsgan-book data cifar10 --to {root}`")
            for name in names[:: max(1, len(names) // 50)]:  # decode a spread of 50
                image = Image.open(io.BytesIO(archive.read(name)))
                if image.size != (32, 32) or image.mode != "RGB":
                    raise DataSetupError(f"{path}: {name} is {image.size} {image.mode}, expected (32, 32) RGB")
    except zipfile.BadZipFile as error:
        raise DataSetupError(f"{path} is not a readable zip ({error}). Fix: delete it and run "
                             f"`lsgan-book data cifar10 --to {root}`") from None
    counts = ", ".join(f"{count:,} {split}" for split, count in per_class.items())
    return [_report(path, LAYOUT["cifar10"][0], f"content verified: {counts} images per class, 32×32 RGB")]


def setup_cifar10(root: Path) -> list[FileReport]:
    """Download CIFAR-10 with torchvision's downloader (URL and md5 of ``torchvision.datasets.CIFAR10``) into a
    temporary folder, convert it with :func:`write_cifar10_zip`, then :func:`verify_cifar10`."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets import utils as tv_utils

    with tempfile.TemporaryDirectory(prefix="lsgan-cifar10-") as scratch:
        try:
            tv_utils.download_and_extract_archive(CIFAR10.url, scratch, filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
        except Exception as error:
            raise DataSetupError(f"could not download CIFAR-10 from {CIFAR10.url} ({type(error).__name__}: {error}). "
                                 "Fix: check the internet connection, or copy cifar10/cifar10_jpeg.zip from a machine "
                                 f"that has it into {root / 'cifar10'}") from None
        print(f"  cifar10: {CIFAR10.filename} md5 {CIFAR10.tgz_md5} verified by torchvision; converting to JPEG",
              flush=True)
        write_cifar10_zip(read_cifar10_batches(Path(scratch) / CIFAR10.base_folder), root / LAYOUT["cifar10"][0])
    return verify_cifar10(root)


# ---------------------------------------------------------------------------------------------------------------------
# CelebA
# ---------------------------------------------------------------------------------------------------------------------


def _celeba_names(n: int) -> list[str]:
    return [f"{i:06d}.jpg" for i in range(1, n + 1)]


def _celeba_reader(source: Path, n: int):
    """A function name → image bytes over the first ``n`` aligned images in a folder or a zip archive."""
    names = _celeba_names(n)
    if source.is_dir():
        folder = next((f for f in (source, source / "img_align_celeba") if (f / names[0]).is_file()), None)
        if folder is None:
            raise DataSetupError(f"{source} holds no {names[0]} (nor img_align_celeba/{names[0]}). Fix: point "
                                 "--celeba-from at the folder of CelebA's aligned images or at img_align_celeba.zip")
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise DataSetupError(f"{folder} lacks {len(missing)} of the first {n} aligned images (e.g. {missing[0]})")
        return lambda name: (folder / name).read_bytes(), None
    if zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        members = {Path(m).name: m for m in archive.namelist() if m.endswith(".jpg")}
        missing = [name for name in names if name not in members]
        if missing:
            raise DataSetupError(f"{source} lacks {len(missing)} of the first {n} aligned images (e.g. {missing[0]}). "
                                 "Fix: use CelebA's img_align_celeba.zip")
        return lambda name: archive.read(members[name]), archive
    raise DataSetupError(f"{source} is neither a folder nor a zip archive. Fix: point --celeba-from at the folder of "
                         "CelebA's aligned images or at img_align_celeba.zip")


def celeba_subset(source: Path, n: int = CELEBA_SUBSET) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` aligned CelebA images as ``(n, 64, 64, 3)`` uint8 and their names ``(n,)``: the centred
    140 × 140 crop resized bicubically to 64 × 64 (how the offline copy was made; half-resolution copies, 89 × 109,
    are cropped at the same place, scaled)."""
    from PIL import Image

    read, archive = _celeba_reader(Path(source), n)
    images = np.empty((n, CELEBA_SIZE, CELEBA_SIZE, 3), dtype=np.uint8)
    names = _celeba_names(n)
    try:
        for i, name in enumerate(names):
            image = Image.open(io.BytesIO(read(name))).convert("RGB")
            scale = image.size[0] / CELEBA_ALIGNED[0]
            if scale not in (1.0, 0.5) or image.size[1] != round(CELEBA_ALIGNED[1] * scale):
                raise DataSetupError(f"{source}: {name} is {image.size[0]}×{image.size[1]}, not an aligned CelebA "
                                     f"image ({CELEBA_ALIGNED[0]}×{CELEBA_ALIGNED[1]}). Fix: use img_align_celeba")
            box = tuple(v * scale for v in CELEBA_CROP)
            images[i] = np.asarray(image.resize((CELEBA_SIZE, CELEBA_SIZE), Image.BICUBIC, box=box))
    finally:
        if archive is not None:
            archive.close()
    return images, np.array(names)


def verify_celeba(root: Path, n: int = CELEBA_SUBSET) -> list[FileReport]:
    """The subset holds ``x`` ``(n, 64, 64, 3)`` uint8 and the names ``000001.jpg`` … in order."""
    path = root / LAYOUT["celeba"][0]
    if not path.is_file():
        raise DataSetupError(f"{path} is missing. Fix: `lsgan-book data celeba --to {root} --celeba-from "
                             "<img_align_celeba folder or zip>`")
    try:
        with np.load(path) as archive:
            x, names = archive["x"], archive["filenames"]
    except Exception as error:
        raise DataSetupError(f"{path} is not a readable subset ({type(error).__name__}: {error}). Fix: delete it and "
                             "run `lsgan-book data celeba --celeba-from ...`") from None
    if x.shape != (n, CELEBA_SIZE, CELEBA_SIZE, 3) or x.dtype != np.uint8 or list(names) != _celeba_names(n):
        raise DataSetupError(f"{path}: x is {x.shape} {x.dtype} with {len(names)} names; expected ({n}, 64, 64, 3) "
                             f"uint8 named 000001.jpg … in order. Fix: delete it and run `lsgan-book data celeba`")
    return [_report(path, LAYOUT["celeba"][0], f"content verified: {n:,} images 64×64 RGB, names in order")]


def setup_celeba(root: Path, source: Path | None, n: int = CELEBA_SUBSET) -> list[FileReport]:
    """Make ``celeba/celeba64_subset.npz`` from ``source`` (a folder or zip of the aligned images); without one,
    :class:`NeedsSource` naming where to get it."""
    if source is None:
        raise NeedsSource(
            "CelebA needs its aligned images from you: torchvision's CelebA download goes through Google Drive (it "
            "needs the gdown package and often fails on the Drive's download quota), so it is not used. Fix: download "
            "img_align_celeba.zip (1.4 GB; linked from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html), then run "
            f"`lsgan-book data celeba --to {root} --celeba-from /path/to/img_align_celeba.zip`")
    source = Path(source).expanduser()
    if not source.exists():
        raise DataSetupError(f"--celeba-from {source}: no such file or folder")
    if source.is_file() and n == CELEBA_SUBSET:
        from torchvision.datasets.utils import calculate_md5

        md5 = calculate_md5(str(source))
        state = "matches" if md5 == CELEBA_ARCHIVE_MD5 else "differs from"
        print(f"  celeba: {source.name} md5 {md5} {state} img_align_celeba.zip's ({CELEBA_ARCHIVE_MD5}); the images "
              "are checked one by one", flush=True)
    images, names = celeba_subset(source, n)
    target = root / LAYOUT["celeba"][0]
    write_atomically(target, lambda handle: np.savez_compressed(handle, x=images, filenames=names))
    return verify_celeba(root, n)


# ---------------------------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------------------------

VERIFY = {"mnist": verify_mnist, "cifar10": verify_cifar10, "celeba": verify_celeba}


def prepare(names: list[str], root: Path, celeba_from: Path | None = None, if_missing: bool = False) -> int:
    """Verify each dataset already under ``root`` and create the others; print one line per file. Returns the exit
    status: 0 when every dataset is there and verified (or, with ``if_missing``, only lacks a source from the user)."""
    print(f"lsgan-book: datasets in {root}", flush=True)
    status = 0
    for name in names:
        present = (root / LAYOUT[name][0]).is_file()
        try:
            if present:
                reports = VERIFY[name](root)
            elif name == "mnist":
                reports = setup_mnist(root)
            elif name == "cifar10":
                reports = setup_cifar10(root)
            else:
                reports = setup_celeba(root, celeba_from)
        except NeedsSource as error:
            print(f"  {name}: not set up. {error}", file=sys.stderr if not if_missing else sys.stdout, flush=True)
            status = status if if_missing else 1
            continue
        except (DataSetupError, WriteFailed) as error:  # WriteFailed: a full or read-only data folder
            print(f"  {name}: FAILED. {error}", file=sys.stderr, flush=True)
            status = 1
            continue
        for report in reports:
            print(f"  {name}: {report.path.relative_to(root)}  {report.size:,} bytes  sha256 {report.sha256}  "
                  f"({'already there; ' if present else ''}{report.note})", flush=True)
    return status


def command_data(args) -> int:
    unknown = [name for name in args.datasets if name not in (*DATASETS, "all")]
    if unknown:
        print(f"lsgan-book data: unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)} or all",
              file=sys.stderr)
        return 2
    names = list(DATASETS) if not args.datasets or "all" in args.datasets else list(dict.fromkeys(args.datasets))
    root = Path(args.to).expanduser().resolve() if args.to else data_root().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file in the way is a bad argument (2); permissions or a full disk the machine's (1)
        bad_argument = isinstance(error, (NotADirectoryError, FileExistsError))
        print(f"lsgan-book data: --to {root} cannot be created: {error.strerror or error}. Fix: "
              + ("give a folder whose parents are folders, not files" if bad_argument else
                 "give a folder you can write to"), file=sys.stderr)
        return 2 if bad_argument else 1
    status = prepare(names, root, Path(args.celeba_from) if args.celeba_from else None, args.if_missing)
    if status == 0 and root != data_root().resolve():
        print(f"lsgan-book: the chapters read {data_root()}; point them here with: export LSGAN_DATA={root}")
    return status


def add_data_command(sub) -> None:
    """Register ``lsgan-book data`` on the command's subparsers."""
    data = sub.add_parser("data", help="download or convert the image datasets into the layout the chapters read",
                          description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    # the names are checked in command_data: argparse's choices refuse the empty list that means all
    data.add_argument("datasets", nargs="*", metavar="DATASET", help="mnist, cifar10, celeba or all (default: all)")
    data.add_argument("--to", help="the data folder (default: $LSGAN_DATA, else data/ in the project)")
    data.add_argument("--celeba-from", metavar="PATH", help="CelebA's aligned images: the img_align_celeba folder or "
                      "img_align_celeba.zip")
    data.add_argument("--if-missing", action="store_true", help="set up only what is missing; a dataset that needs "
                      "a file from you is reported, not an error (what `make book` uses)")
    data.set_defaults(func=command_data)

