"""Results cache: a configuration → a hash → a file under ``results/``.

A trained run is stored as ``results/<kind>/<hash>.pt`` holding its configuration and a payload of tensors, numbers
and strings. Files are written atomically (a temporary file, then ``os.replace``) and read with
``torch.load(weights_only=True)``, so a cache entry can never execute code. An entry that cannot be read, or whose
stored configuration differs from the one asked for, or whose payload its reader cannot use (a ``check`` given to
:func:`lookup`/:func:`cached` raises: missing state-dict keys, non-finite weights) is reported with a warning naming
the file and recomputed. A folder that cannot be written (read-only, full) is reported once; what was computed is then
kept in memory for this run only. Files honour the umask (a shared cache on a cluster stays group-readable).

Every entry a process reads or writes is recorded (:func:`ledger`): how many were computed and how many loaded, and a
SHA-256 over their contents (timings left out), which ``lsgan-book run`` puts into each chapter's provenance.

The folder is ``$LSGAN_RESULTS`` if set, else ``results/`` in the project root (the folder holding ``pyproject.toml``
above this package), else ``results/`` in the working directory.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .files import WriteFailed, write_atomically


class CorruptCacheEntry(RuntimeError):
    """A cache file exists but cannot be used (unreadable, truncated, written for another configuration, or a payload
    its reader cannot use)."""


# Payload entries left out of the content digest: they differ between runs that computed the same numbers.
VOLATILE_KEYS = frozenset({"seconds", "device"})
# This process's record of the entries it read or wrote: "<kind>/<hash>" → (content digest, computed here).
# It is an audit log for the provenance (see ledger()), never consulted for results.
_LEDGER: dict[str, tuple[str, bool]] = {}
_UNWRITABLE_REPORTED: set[str] = set()


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
    return Path(root or results_dir()) / kind / f"{config_hash(config)}.pt"


def save_entry(path: Path, config: dict[str, Any], payload: dict[str, Any]) -> None:
    """Write ``{"config": ..., "payload": ...}`` atomically to ``path`` (:func:`lsgan_lib.files.write_atomically`:
    a failed write of any kind, torch's short-write ``RuntimeError`` included, raises :class:`~lsgan_lib.files.
    WriteFailed` and leaves no partial file)."""
    entry = {"config": canonical_json(config), "payload": payload}
    write_atomically(path, lambda handle: torch.save(entry, handle))


def load_entry(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Read a cache file written by :func:`save_entry` for ``config``; raise :class:`CorruptCacheEntry` if unusable."""
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as error:  # permissions, a vanished file: not the file's content
        raise CorruptCacheEntry(f"cannot read {path}: {error.strerror or error}") from None
    except Exception as error:  # torch raises several types for truncated or foreign files
        # torch's own text would advise loading with weights_only=False, which would run whatever the file holds:
        # the message says what happened and never passes that advice on.
        raise CorruptCacheEntry(f"cannot read {path}: it is not a results-cache entry (truncated, overwritten or "
                                f"foreign: {type(error).__name__}); it was refused unread") from None
    if not isinstance(entry, dict) or "payload" not in entry or "config" not in entry:
        raise CorruptCacheEntry(f"{path} is not a results-cache entry (missing 'config' or 'payload')")
    if entry["config"] != canonical_json(config):
        raise CorruptCacheEntry(f"{path} was written for another configuration (hash collision or edited file)")
    return entry["payload"]


def lookup(kind: str, config: dict[str, Any], root: Path | None = None,
           check: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any] | None:
    """The cached payload for ``config``, or ``None`` when there is none or it is corrupt (reported with a warning).

    ``check(payload)`` is the reader's test that it can use the payload (e.g. :func:`check_networks`): anything it
    raises makes the entry corrupt."""
    path = entry_path(kind, config, root)
    if not path.exists():
        return None
    try:
        payload = load_entry(path, config)
        if check is not None:
            try:
                check(payload)
            except Exception as error:  # noqa: BLE001 - whatever the reader cannot use is a corrupt entry
                reason = " ".join(str(error).split())  # one line (state-dict errors span several)
                raise CorruptCacheEntry(f"{path} holds a payload its reader cannot use: {type(error).__name__}: "
                                        f"{reason}") from None
    except CorruptCacheEntry as error:
        warnings.warn(f"results cache: {error}; recomputing and replacing it", stacklevel=3)
        return None
    _record(kind, config, payload, computed=False)
    return payload


def store(kind: str, config: dict[str, Any], payload: dict[str, Any], root: Path | None = None) -> bool:
    """Save ``payload`` as the cache entry of ``config``. Returns ``False`` (after one warning per folder) when the
    folder cannot be written: the caller keeps the payload in memory for this run."""
    _record(kind, config, payload, computed=True)
    path = entry_path(kind, config, root)
    try:
        save_entry(path, config, payload)
    except WriteFailed as error:  # read-only, full, or torch's short write: the partial file is already removed
        folder = str(path.parent.parent)
        if folder not in _UNWRITABLE_REPORTED:
            _UNWRITABLE_REPORTED.add(folder)
            warnings.warn(f"results cache: cannot write to {folder} ({error.reason}); what this run computes is kept "
                          f"in memory only and will be computed again next time. Fix: {error.fix} (or point "
                          "LSGAN_RESULTS at a writable folder)", stacklevel=3)
        return False
    return True


def cached(kind: str, config: dict[str, Any], compute: Callable[[], dict[str, Any]], root: Path | None = None,
           check: Callable[[dict[str, Any]], Any] | None = None) -> tuple[dict[str, Any], bool]:
    """Return ``(payload, hit)``: the cached payload for ``config`` if present and sound, else ``compute()`` (saved).

    A corrupt entry (see :func:`lookup`; ``check`` as there) is reported with a ``UserWarning`` naming the file and
    the reason, then recomputed and replaced.
    """
    payload = lookup(kind, config, root, check)
    if payload is not None:
        return payload, True
    payload = compute()
    store(kind, config, payload, root)
    return payload, False


# ---------------------------------------------------------------------------------------------------------------------
# Checks a reader passes to lookup/cached
# ---------------------------------------------------------------------------------------------------------------------


def check_networks(payload: dict[str, Any], allow_non_finite: bool = False, **modules: nn.Module) -> None:
    """Raise unless every ``payload[name]`` is a state dict that ``modules[name]`` loads strictly (no missing or
    unexpected keys, the right shapes) and, unless ``allow_non_finite``, holds only finite numbers. The modules are
    freshly built networks of the run's configuration; they are loaded in place."""
    for name, module in modules.items():
        if name not in payload:
            raise KeyError(f"no {name!r} in the payload")
        state = payload[name]
        if not isinstance(state, dict):
            raise TypeError(f"{name!r} is a {type(state).__name__}, not a state dict")
        module.load_state_dict(state)
        if not allow_non_finite:
            bad = [key for key, value in state.items() if value.is_floating_point() and not torch.isfinite(value).all()]
            if bad:
                raise ValueError(f"{name} weights {', '.join(bad)} hold NaN or infinite values")


def check_finite(payload: dict[str, Any], *names: str) -> None:
    """Raise unless each ``payload[name]`` is present and is a tensor of finite numbers."""
    for name in names:
        if name not in payload:
            raise KeyError(f"no {name!r} in the payload")
        value = payload[name]
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name!r} is a {type(value).__name__}, not a tensor")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ValueError(f"{name!r} holds NaN or infinite values")


# ---------------------------------------------------------------------------------------------------------------------
# The ledger: what this process read and wrote
# ---------------------------------------------------------------------------------------------------------------------


def payload_digest(payload: Any) -> str:
    """A SHA-256 of a payload's contents: tensors by dtype, shape and bytes, other values by ``repr``; the
    :data:`VOLATILE_KEYS` (wall time, device name) are left out, so two runs that computed the same numbers agree."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"tensor{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                if key in VOLATILE_KEYS:
                    continue
                digest.update(f"<{key}>".encode())
                feed(value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(f"[{len(value)}".encode())
            for item in value:
                feed(item)
        elif isinstance(value, float) and math.isnan(value):
            digest.update(b"nan")
        else:
            digest.update(repr(value).encode())

    feed(payload)
    return digest.hexdigest()


def _record(kind: str, config: dict[str, Any], payload: dict[str, Any], computed: bool) -> None:
    name = f"{kind}/{config_hash(config)}"
    was_computed = _LEDGER.get(name, ("", False))[1]
    _LEDGER[name] = (payload_digest(payload), computed or was_computed)


def ledger() -> dict[str, Any]:
    """What this process read from and wrote to the results cache: ``{"computed": n, "loaded": m, "sha256": ...}``,
    the digest over the entries' names and :func:`payload_digest` in name order (equal for two runs that used the
    same results)."""
    digest = hashlib.sha256()
    for name in sorted(_LEDGER):
        digest.update(f"{name}={_LEDGER[name][0]};".encode())
    computed = sum(1 for _, was_computed in _LEDGER.values() if was_computed)
    return {"computed": computed, "loaded": len(_LEDGER) - computed, "sha256": digest.hexdigest()}
