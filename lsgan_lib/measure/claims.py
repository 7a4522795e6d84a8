"""Claim records, training gates, intervals over seeds, and the claims table every chapter ends with.

A claim is stated in the paper's words, with the measurement that tests it, the measured value, the criterion fixed
before the run, and its *kind*:

* ``"empirical"`` — it depends on trained models. It names the **gates** it needs: measured preconditions that the
  models it compares actually learned (:class:`Gate`, e.g. "the WGAN-GP reference covers ≥ 7 of 8 modes in every
  seed"). Where an untrained model could give the same number, ``control`` states the same measurement on the
  networks at initialisation.
* ``"numerical check"`` — a formula against an independent computation (e.g. a gradient against autograd).
* ``"by construction"`` — true by the definitions the chapter uses; shown, but not evidence about the paper.

The verdict is one of :data:`VERDICTS` and is derived, never typed in:

* ``"not tested"`` — a gate failed (the reason names the gate and its number), or the profile drops the part
  (``not_tested="needs the gpu profile"``);
* otherwise ``outcome`` decides: ``True`` → ``"reproduced"``, ``False`` → ``"not reproduced"``, ``None`` →
  ``"inconclusive"`` (trained models, but the seeds disagree or the interval straddles the criterion — see
  :func:`meets`).

So a claim is ``"not reproduced"`` only when its gates pass.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

import numpy as np

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "not tested")
KINDS = ("empirical", "numerical check", "by construction")
DIRECTIONS = (">=", "<=", ">", "<")
SIGNS = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}  # how a direction is printed
MIN_SEEDS_FOR_BOOTSTRAP = 5


def _holds(value: float, direction: str, threshold: float) -> bool:
    return {">=": value >= threshold, "<=": value <= threshold, ">": value > threshold, "<": value < threshold}[direction]


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")


def _fmt(x: float) -> str:
    return "not computable" if not math.isfinite(x) else f"{x:.3g}"


@dataclass(frozen=True)
class Gate:
    """A training gate: ``value`` (the measurement, worst case over the seeds it covers) must satisfy
    ``value <direction> threshold``. A value that is NaN or infinite fails the gate (it could not be measured)."""

    name: str
    measurement: str
    value: float
    threshold: float
    direction: str = ">="

    def __post_init__(self):
        _check_direction(self.direction)
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "threshold", float(self.threshold))

    @property
    def passed(self) -> bool:
        return math.isfinite(self.value) and _holds(self.value, self.direction, self.threshold)

    def describe(self) -> str:
        """One line: ``name: value (≥ threshold) — passed|failed``."""
        state = "passed" if self.passed else "failed"
        return f"{self.name}: {_fmt(self.value)} (needs {SIGNS[self.direction]} {self.threshold:g}) — {state}"


def gate(name: str, measurement: str, values: Sequence[float] | float, threshold: float, direction: str = ">="
         ) -> Gate:
    """A gate that must hold in *every* seed: ``values`` are per-seed measurements ``(n_seeds,)`` (or one number);
    the gate keeps the worst of them (the minimum for ``>=``/``>``, the maximum for ``<=``/``<``). Any non-finite
    value makes the gate fail."""
    _check_direction(direction)
    array = np.atleast_1d(np.asarray(values, dtype=float))
    if array.size == 0:
        raise ValueError(f"gate {name!r} has no measurements: pass at least one value")
    if not np.isfinite(array).all():
        worst = math.nan
    else:
        worst = float(array.min() if direction in (">=", ">") else array.max())
    return Gate(name, measurement, worst, threshold, direction)


@dataclass(frozen=True)
class Interval:
    """A measurement over seeds: the mean and a ``level`` interval. With at least :data:`MIN_SEEDS_FOR_BOOTSTRAP`
    seeds it is a percentile bootstrap interval of the mean; with fewer it is the range of the per-seed values (which
    are then shown one by one)."""

    mean: float
    low: float
    high: float
    values: tuple[float, ...]
    level: float = 0.95

    @property
    def bootstrap(self) -> bool:
        return len(self.values) >= MIN_SEEDS_FOR_BOOTSTRAP

    def __str__(self) -> str:
        if not all(math.isfinite(v) for v in self.values):
            return "not computable (a seed's value is NaN or infinite)"
        if self.bootstrap:
            return f"{self.mean:.3g} [{self.low:.3g}, {self.high:.3g}] ({len(self.values)} seeds, {self.level:.0%} CI)"
        return f"per seed {', '.join(f'{v:.3g}' for v in self.values)} (mean {self.mean:.3g})"


def bootstrap_interval(values: Sequence[float], level: float = 0.95, n_resamples: int = 10_000, seed: int = 0
                       ) -> Interval:
    """Mean and percentile-bootstrap interval of per-seed values ``(n_seeds,)`` (the range when fewer than
    :data:`MIN_SEEDS_FOR_BOOTSTRAP`). The resampling draws from its own generator seeded by ``seed``, so the same
    values give the same interval."""
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if not np.isfinite(array).all():
        return Interval(math.nan, math.nan, math.nan, tuple(array.tolist()), level)
    mean = float(array.mean())
    if array.size < MIN_SEEDS_FOR_BOOTSTRAP:
        return Interval(mean, float(array.min()), float(array.max()), tuple(array.tolist()), level)
    rng = np.random.default_rng(seed)
    means = array[rng.integers(0, array.size, size=(n_resamples, array.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(mean, float(low), float(high), tuple(array.tolist()), level)


def meets(interval: Interval, threshold: float, direction: str = ">=") -> bool | None:
    """Whether a criterion ``mean <direction> threshold`` holds over the interval: ``True`` when the whole interval
    satisfies it, ``False`` when none of it does, ``None`` (inconclusive) when the interval straddles the threshold or
    a value is not computable."""
    _check_direction(direction)
    if not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return None
    low_ok, high_ok = _holds(interval.low, direction, threshold), _holds(interval.high, direction, threshold)
    if low_ok and high_ok:
        return True
    if not low_ok and not high_ok:
        return False
    return None


def all_hold(outcomes: Iterable[bool | None]) -> bool | None:
    """A criterion whose parts must all hold: ``False`` if any part fails, else ``None`` if any is undecided (an
    interval straddling its threshold), else ``True``. Raises on no parts (a criterion of nothing is a bug)."""
    outcomes = _parts(outcomes, "all_hold")
    if any(o is False for o in outcomes):
        return False
    return True if all(o is True for o in outcomes) else None


def any_holds(outcomes: Iterable[bool | None]) -> bool | None:
    """A criterion that must hold for at least one part: ``True`` if any part holds, ``False`` if all fail, else
    ``None``."""
    outcomes = _parts(outcomes, "any_holds")
    if any(o is True for o in outcomes):
        return True
    return False if all(o is False for o in outcomes) else None


def agree(outcomes: Iterable[bool | None]) -> bool | None:
    """One verdict over several settings (e.g. learning rates and batch sizes): ``True`` or ``False`` when every
    setting gives it, ``None`` when they disagree or one is undecided."""
    outcomes = _parts(outcomes, "agree")
    if all(o is True for o in outcomes):
        return True
    return False if all(o is False for o in outcomes) else None


def _parts(outcomes: Iterable[bool | None], name: str) -> list[bool | None]:
    outcomes = list(outcomes)
    if not outcomes:
        raise ValueError(f"{name} needs at least one outcome")
    bad = [o for o in outcomes if o is not None and not isinstance(o, (bool, np.bool_))]
    if bad:
        raise TypeError(f"{name} takes outcomes True, False or None, got {bad[0]!r}")
    return [None if o is None else bool(o) for o in outcomes]


@dataclass(frozen=True)
class Claim:
    """One row of a chapter's claims table (see the module docstring). ``outcome`` is whether the criterion was met
    (``None``: undecided). ``gates`` are required for an empirical claim unless ``not_tested`` gives the reason the
    profile drops it."""

    paper: str
    claim: str
    measurement: str
    value: str
    criterion: str
    outcome: bool | None
    kind: str = field(kw_only=True)
    gates: tuple[Gate, ...] = field(default=(), kw_only=True)
    control: str = field(default="", kw_only=True)
    not_tested: str = field(default="", kw_only=True)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Claim.kind must be one of {KINDS}, got {self.kind!r} (claim: {self.claim[:60]!r})")
        object.__setattr__(self, "gates", tuple(self.gates))
        if self.kind == "empirical" and not self.gates and not self.not_tested:
            raise ValueError(f"the empirical claim {self.claim[:60]!r} names no training gate: pass gates=(...) with "
                             f"the measured preconditions it needs, or not_tested='<reason>' if the profile drops it")
        if self.outcome not in (True, False, None):
            raise ValueError(f"Claim.outcome must be True, False or None, got {self.outcome!r}")

    @property
    def failed_gates(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if not g.passed)

    @property
    def verdict(self) -> str:
        """One of :data:`VERDICTS`, derived from the gates and the outcome."""
        if self.not_tested or self.failed_gates:
            return "not tested"
        return {True: "reproduced", False: "not reproduced", None: "inconclusive"}[self.outcome]

    @property
    def reason(self) -> str:
        """Why a claim is not tested: the profile's reason and every failed gate with its number; else empty."""
        parts = [self.not_tested] if self.not_tested else []
        parts += [f"gate failed — {g.describe()}" for g in self.failed_gates]
        return "; ".join(parts)

    def record(self) -> dict:
        """The claim as plain JSON-able data (stored in the notebook's output metadata for the overview)."""
        return json.loads(json.dumps(asdict(self) | {
            "verdict": self.verdict, "reason": self.reason,
            "gates": [asdict(g) | {"passed": g.passed, "text": g.describe()} for g in self.gates]}, default=str))


BADGE = {"reproduced": "success", "not reproduced": "danger", "inconclusive": "warning", "not tested": "secondary"}


def verdict_badge(verdict: str) -> str:
    """A coloured badge (sphinx-design's ``bdg`` role) with the verdict as text, so it reads without colour too."""
    return f"{{bdg-{BADGE[verdict]}}}`{verdict}`"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(claims: list[Claim], profile: str, device: str) -> str:
    """The claims table as MyST Markdown — the verdict first, then the claim with its kind, the measurement and value,
    the criterion and the gates — followed by the gates table and the profile and device the numbers come from."""
    rows = ["| verdict | claim | measured | criterion (fixed before the run) |",
            "| --- | --- | --- | --- |"]
    for c in claims:
        verdict = verdict_badge(c.verdict) + (f" {c.reason}" if c.reason else "")
        measured = f"{c.measurement}: **{c.value}**" + (f" — untrained control: {c.control}" if c.control else "")
        rows.append("| " + " | ".join(_cell(x) for x in (verdict, f"{c.claim} *({c.kind})*", measured, c.criterion))
                    + " |")
    gates = {g.name: g for c in claims for g in c.gates}
    if gates:
        rows += ["", "Training gates (fixed before the run; a claim whose gate fails reads *not tested*):", "",
                 "| gate | measurement | value | threshold | passed |", "| --- | --- | --- | --- | --- |"]
        for g in gates.values():
            rows.append("| " + " | ".join(_cell(x) for x in (g.name, g.measurement, _fmt(g.value),
                                                             f"{SIGNS[g.direction]} {g.threshold:g}", "yes" if g.passed else "**no**"))
                        + " |")
    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
    rows += ["", f"{len(claims)} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ". "
             f"Measured at the `{profile}` profile on {device}."]
    return "\n".join(rows)


def show_claims(claims: list[Claim], profile: str, device: str) -> None:
    """Display the claims table in a notebook, with the records as JSON metadata for the book's claims overview."""
    from IPython.display import Markdown, display

    display(Markdown(claims_markdown(claims, profile, device)),
            metadata={"lsgan_claims": [c.record() for c in claims], "lsgan_profile": profile, "lsgan_device": device})


def value_text(value: float, reason: str, digits: int = 3) -> str:
    """A measured number for a claim's ``value``: ``value`` to ``digits`` significant digits, or — when it could not be
    computed (NaN or infinite) — ``"not computable (<reason>)"``, so no claims table shows a bare ``nan``. ``reason``
    says why it may be missing, e.g. ``"the WGAN loss diverged in every seed"``."""
    if value is None or not math.isfinite(value):
        return f"not computable ({reason})"
    return f"{value:.{digits}g}"
