"""The Dask fan-out: training submitted to a cluster's workers, and the clients that reach one.

When ``$LSGAN_SCHEDULER`` names a Dask scheduler (``lsgan-book run --scheduler ADDRESS`` sets it in the kernels it
starts), :func:`train_here_or_on_cluster` submits a trainer's work as a task to that cluster: the worker trains and
returns the payloads, and the calling process alone writes them to the results cache (one writer: no races on shared
storage). A group trained on a worker equals the group trained here bit for bit when both run torch with the same
number of threads; the worker uses its own thread count (CPU matrix products round differently with another one).
:func:`open_client` opens the client a sweep or a chapter run uses: serial, an embedded ``LocalCluster`` (without
glibc's ``MALLOC_TRIM_THRESHOLD_``, which made the toy trainers ≈ 1.8× slower), or a running scheduler.

This module imports nothing of the book runner: training fans out without papermill or jupyter-book.
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

SCHEDULER_ENV = "LSGAN_SCHEDULER"
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # what torch reads for its intra-op threads when a kernel starts
# Dask's nanny sets this for every worker it spawns (``distributed.nanny.pre-spawn-environ``); glibc then returns freed
# memory at every step and the toy trainer's many small tensors come from fresh pages: ≈ 1.8× slower (bench/README.md).
# The sweep's LocalCluster workers and the kernels its points start go without it.
MALLOC_ENV = "MALLOC_TRIM_THRESHOLD_"


def active_client():
    """The Dask client that training fans out to, or ``None``: the client of the scheduler named by
    ``$LSGAN_SCHEDULER`` (unset, empty or ``none``: no client). Connected on first use; later calls return Dask's
    default client while it is connected to that scheduler."""
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if not address or address.lower() == "none":
        return None
    from distributed import Client, default_client
    from distributed.comm import resolve_address

    wanted = resolve_address(address if "://" in address else f"tcp://{address}")
    with contextlib.suppress(ValueError):  # no default client yet
        client = default_client()
        if client.status == "running" and resolve_address(client.scheduler.address) == wanted:
            return client
    try:
        return Client(address, set_as_default=True, timeout=30)
    except OSError as error:
        raise RuntimeError(f"cannot reach the Dask scheduler {address!r} named by ${SCHEDULER_ENV} ({error}). Fix: "
                           f"start it (`dask scheduler`) and its workers, or unset {SCHEDULER_ENV} to train here"
                           ) from None


def map_here_or_on_cluster(function: Callable, items: Iterable) -> list:
    """``[function(item) for item in items]``, in order: one after another here, or, under a Dask client
    (:func:`active_client`), all at once in threads of this process, so that calls which each wait on a task of their
    own (:func:`train_here_or_on_cluster`) spread over the workers while this process caches what they return."""
    items = list(items)
    if len(items) < 2 or active_client() is None:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(function, items))


def train_here_or_on_cluster(train: Callable, work: Any, device: Any, bar, *options) -> Any:
    """``train(work, device, bar, *options)`` — a trainer that returns cache payloads, such as
    :func:`lsgan_lib.train.batched._train_batched` or :func:`lsgan_lib.train.images._train` — in this process, or, when
    a Dask client is active (:func:`active_client`), as a task on one of its workers, which returns the payloads for
    this process to cache (the progress bar then completes when the task does, with the time the worker took).
    ``device`` ``None``: the default device of the process that trains."""
    client = active_client()
    if client is None:
        import torch

        from .config import default_device

        return train(work, torch.device(device) if device is not None else default_device(), bar, *options)
    result, seconds = client.submit(train_on_worker, train, work, device, *options, pure=False).result()
    if bar is not None and bar.total:
        bar.ran_elsewhere(seconds)
    return result


def train_on_worker(train: Callable, work: Any, device: Any, *options) -> tuple[Any, float]:
    """Run ``train(work, device, None, *options)`` on a Dask worker and return its result with the seconds it took
    there (not counting the task's wait in the queue): ``device`` ``None`` means the worker's default device, torch uses
    the worker's thread count, and every tensor of the result comes back on the CPU."""
    import torch
    from distributed import get_worker

    from .config import default_device

    torch.set_num_threads(max(1, get_worker().state.nthreads))
    started = time.perf_counter()
    result = train(work, torch.device(device) if device is not None else default_device(), None, *options)
    return _on_cpu(result), time.perf_counter() - started


def _on_cpu(value: Any) -> Any:
    """``value`` with every tensor in it (in dicts, lists and tuples) moved to the CPU."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _on_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(v) for v in value)
    return value


def _in_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False


class SchedulerUnreachable(RuntimeError):
    """``--scheduler ADDRESS`` names a scheduler that does not answer."""


@contextlib.contextmanager
def open_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client for the sweep: ``scheduler`` ``"none"`` → ``None`` (serial, in this process); an address → a
    client of that cluster; else an embedded ``LocalCluster`` of ``workers`` processes with one thread each."""
    if scheduler is not None and scheduler.lower() == "none":
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=30)
        except OSError as error:  # includes timeouts
            raise SchedulerUnreachable(f"cannot reach the Dask scheduler {scheduler!r} ({error}). Fix: start it "
                                       f"(`dask scheduler`, then `dask worker ADDRESS` on each machine) or run "
                                       f"without --scheduler (an embedded LocalCluster)") from None
        with client:
            yield client
        return
    import dask

    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{MALLOC_ENV}": None}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                         env={name: "1" for name in THREAD_ENV}) as cluster, Client(cluster) as client:
        yield client
