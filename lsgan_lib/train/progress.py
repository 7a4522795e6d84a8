"""Progress of long loops: a tqdm bar (a widget in Jupyter) that appears only once an iteration runs, or one summary
line, or nothing (``$LSGAN_PROGRESS``)."""

from __future__ import annotations

import os
import time

PROGRESS_MODES = ("bar", "summary", "off")


def progress_mode() -> str:
    """How long loops report progress: ``$LSGAN_PROGRESS`` — ``bar`` (default: a tqdm bar, a widget in Jupyter),
    ``summary`` (one printed line when a loop that ran finishes; ``lsgan-book run`` sets it for the kernels it
    starts, so executed chapters hold no frozen widgets) or ``off``."""
    mode = os.environ.get("LSGAN_PROGRESS", "bar")
    if mode not in PROGRESS_MODES:
        raise ValueError(f"LSGAN_PROGRESS={mode!r} is not one of {', '.join(PROGRESS_MODES)}; unset it or pick one")
    return mode


class ProgressBar:
    """A progress bar over ``total`` iterations that appears only once an iteration runs.

    A loop whose results all come from the cache shows nothing (no bar stuck at 0%); ``skip(n)`` takes cached work
    out of the total of a bar shared by several runs. In ``summary`` mode (:func:`progress_mode`) no widget is drawn:
    :meth:`close` prints one line — what ran, how many iterations, how long — and nothing when nothing ran."""

    def __init__(self, total: int, desc: str, enabled: bool = True, leave: bool = True):
        self.total, self.desc, self.leave, self.n = int(total), desc, leave, 0
        self.mode = progress_mode() if enabled else "off"
        self._bar, self._started, self._created = None, None, time.perf_counter()
        self._elsewhere = 0.0  # seconds the iterations that ran on Dask workers took there

    def update(self, n: int = 1) -> None:
        if n <= 0:
            return
        if self._started is None:
            self._started = time.perf_counter()
            if self.mode == "bar":
                from tqdm.auto import tqdm

                self._bar = tqdm(total=self.total, desc=self.desc, leave=self.leave, unit="it")
        self.n += n
        if self._bar is not None:
            self._bar.update(n)

    def ran_elsewhere(self, seconds: float, n: int | None = None) -> None:
        """``n`` iterations (default: all still open) ran elsewhere (a Dask worker) and took ``seconds`` there: count
        them, and let the summary line report the workers' time instead of the time since this bar was created, which
        would include the task's wait in the workers' queue."""
        self._elsewhere += seconds
        self.update(self.total - self.n if n is None else n)

    def part(self, n: int) -> "BarPart":
        """The share of this bar of one piece of work of ``n`` iterations, when several (one per seed, say) share it."""
        return BarPart(self, n)

    def skip(self, n: int) -> None:
        """``n`` iterations of the total will not run (their results came from the cache)."""
        self.total = max(self.n, self.total - int(n))
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "summary" and self._started is not None:
            # the whole loop, first iterations included; or the workers' own time for iterations that ran there
            seconds = self._elsewhere or time.perf_counter() - self._created
            where = " on Dask workers" if self._elsewhere else ""
            print(f"{self.desc}: {self.n:,} iterations in {seconds:.1f} s{where} "
                  f"({self.n / max(seconds, 1e-9):,.0f} it/s)", flush=True)
        self._started = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BarPart:
    """``n`` of a shared :class:`ProgressBar`'s iterations (:meth:`ProgressBar.part`): what one of several pieces of
    work sharing the bar counts, here (``update``) or on a Dask worker (``ran_elsewhere``), never more than ``n``."""

    def __init__(self, bar: ProgressBar, n: int):
        self.bar, self.total, self.n = bar, int(n), 0

    def update(self, n: int = 1) -> None:
        n = min(n, self.total - self.n)
        if n > 0:
            self.n += n
            self.bar.update(n)

    def ran_elsewhere(self, seconds: float) -> None:
        """This part's iterations still open ran on a worker in ``seconds``."""
        self.bar.ran_elsewhere(seconds, self.total - self.n)
        self.n = self.total
