"""Results cache: a configuration → a hash → a file under ``results/``.

A trained run is stored as ``results/<kind>/<hash>.pt`` holding its configuration and a payload of tensors, numbers
and strings. Files are written atomically (a temporary file, then ``os.replace``) and read with
``torch.load(weights_only=True)``, so a cache entry can never execute code. An entry that cannot be read, or whose
stored configuration differs from the one asked for, is reported with a warning and recomputed.

The folder is ``$LSGAN_RESULTS`` if set, else ``results/`` in the project root (the folder holding ``pyproject.toml``
above this package), else ``results/`` in the working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import torch


class CorruptCacheEntry(RuntimeError):
    """A cache file exists but cannot be used (unreadable, truncated, or written for another configuration)."""


def canonical_json(config: dict[str, Any]) -> str:
    """The configuration as JSON with sorted keys and no spaces: equal configurations give equal strings."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(config: dict[str, Any]) -> str:
    """A 16-hex-digit hash of the configuration (first 64 bits of its canonical JSON's SHA-256)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


def results_dir() -> Path:
    """Where results live: ``$LSGAN_RESULTS``, else ``<project root>/results``, else ``./results``."""
    if os.environ.get("LSGAN_RESULTS"):
        return Path(os.environ["LSGAN_RESULTS"])
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").exists():
        return root / "results"
    return Path.cwd() / "results"


def entry_path(kind: str, config: dict[str, Any], root: Path | None = None) -> Path:
    """The file a configuration is cached in: ``<root>/<kind>/<hash>.pt``."""
    return (root or results_dir()) / kind / f"{config_hash(config)}.pt"


def save_entry(path: Path, config: dict[str, Any], payload: dict[str, Any]) -> None:
    """Write ``{"config": ..., "payload": ...}`` atomically to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"config": canonical_json(config), "payload": payload}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_entry(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Read a cache file written by :func:`save_entry` for ``config``; raise :class:`CorruptCacheEntry` if unusable."""
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise CorruptCacheEntry(f"cannot read {path}: {type(error).__name__}: {error}") from error
    if not isinstance(entry, dict) or "payload" not in entry or "config" not in entry:
        raise CorruptCacheEntry(f"{path} is not a results-cache entry (missing 'config' or 'payload')")
    if entry["config"] != canonical_json(config):
        raise CorruptCacheEntry(f"{path} was written for another configuration (hash collision or edited file)")
    return entry["payload"]


def lookup(kind: str, config: dict[str, Any], root: Path | None = None) -> dict[str, Any] | None:
    """The cached payload for ``config``, or ``None`` when there is none or it is corrupt (reported with a warning)."""
    path = entry_path(kind, config, root)
    if path.exists():
        try:
            return load_entry(path, config)
        except CorruptCacheEntry as error:
            warnings.warn(f"results cache: {error}; recomputing and replacing it", stacklevel=3)
    return None


def store(kind: str, config: dict[str, Any], payload: dict[str, Any], root: Path | None = None) -> None:
    """Save ``payload`` as the cache entry of ``config``."""
    save_entry(entry_path(kind, config, root), config, payload)


def cached(kind: str, config: dict[str, Any], compute: Callable[[], dict[str, Any]], root: Path | None = None
           ) -> tuple[dict[str, Any], bool]:
    """Return ``(payload, hit)``: the cached payload for ``config`` if present and sound, else ``compute()`` (saved).

    A corrupt entry is reported with a ``UserWarning`` naming the file and the reason, then recomputed and replaced.
    """
    payload = lookup(kind, config, root)
    if payload is not None:
        return payload, True
    payload = compute()
    store(kind, config, payload, root)
    return payload, False
