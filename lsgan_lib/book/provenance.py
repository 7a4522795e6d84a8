"""Provenance: the commit, machine, profile and parameters an executed chapter records in its first cell and
metadata."""


from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

from .publishing import plain_progress_outputs

# ---------------------------------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------------------------------


def git_commit(root: Path) -> str:
    """The checked-out commit, with ``+dirty`` when tracked files differ from it; ``unknown`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance_markdown(info: dict[str, Any]) -> str:
    rows = ["| provenance | |", "| --- | --- |"]
    rows += [f"| {key} | {str(value).replace('|', '/')} |" for key, value in info.items() if key != "parameters"]
    parameters = ", ".join(f"`{k}={v!r}`" for k, v in info.get("parameters", {}).items())
    rows.append(f"| parameters | {parameters} |")
    return "\n".join(rows)


def show_provenance(**info: Any) -> None:
    """Called by the cell the runner puts first in every executed chapter: shows profile, parameters, commit, device,
    torch version. The runner appends the wall time after execution."""
    import torch
    from IPython.display import Markdown, display

    from ..train.toy import device_name

    info = dict(info)
    threads = info.get("parameters", {}).get("cpu_threads")  # the chapter's setup cell sets it after this cell
    info.update(device=device_name(threads=int(threads) if threads else None), torch=torch.__version__,
                python=platform.python_version())
    display(Markdown(provenance_markdown(info)), metadata={"lsgan_provenance": info})


def provenance_cell(info: dict[str, Any]):
    import nbformat

    source = (f"from lsgan_lib.book.provenance import show_provenance\n"
              f"from lsgan_lib.book.publishing import portable_warnings\n"
              f"portable_warnings()  # warnings name their file relative to the project, not by an absolute path\n"
              f"show_provenance(**{info!r})")
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-input", "lsgan-provenance"]})


def finalise(notebook, seconds: float) -> None:
    """Add the wall time and the results record (entries computed and loaded, their content hash: see
    :func:`lsgan_lib.cache.ledger`) to the provenance cell's output and to the notebook's metadata, drop the cell that
    made the record, and fold the injected parameters cell (the provenance table already lists every parameter)."""
    plain_progress_outputs(notebook)  # a bar drawn by a kernel outside the runner's summary mode
    record = None
    for cell in list(notebook.cells):
        if "lsgan-results" in cell.metadata.get("tags", []):
            for output in cell.get("outputs", []):
                record = output.get("metadata", {}).get("lsgan_results", record)
            notebook.cells.remove(cell)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            cell.metadata["tags"] = [*tags, "hide-input"]
        if "lsgan-provenance" in cell.metadata.get("tags", []):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "display_data" and "lsgan_provenance" in output.get("metadata", {}):
                    info = output["metadata"]["lsgan_provenance"]
                    info["wall time"] = f"{seconds:.1f} s"
                    if record is not None:
                        info["results"] = (f"{record['computed']} computed, {record['loaded']} loaded from the cache; "
                                           f"sha256 {record['sha256'][:16]}")
                    output["data"]["text/markdown"] = provenance_markdown(info)
                    output["data"]["text/plain"] = "<provenance>"
                    notebook.metadata["lsgan"] = info
