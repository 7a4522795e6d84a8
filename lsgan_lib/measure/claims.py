"""Claim records, training gates judged on a quorum of seeds, intervals over seeds, and the claims table every
chapter ends with.

A claim is stated in the paper's words, with the measurement that tests it, the measured value, the criterion fixed
before the run, and its *kind*:

* ``"empirical"`` — it depends on trained models. It quotes the paper's sentence it tests, with its section
  (``quote``), and names the **gates** it needs: measured preconditions that the models it compares actually trained
  (:class:`Gate`). A gate certifies that training happened, never the claim's outcome, and says so: its
  ``independence`` sentence states what it certifies and why that is independent of the claim it guards. A gate is
  judged per seed and passes when at least :data:`QUORUM` of the seeds pass (not the worst seed: these toy GANs
  amplify float rounding); a NaN seed fails. The claim is then measured over the seeds that pass its gates
  (:func:`passing_seeds`), and its row says "n of N seeds". Where an untrained model could give the same number,
  ``control`` states the same measurement on the networks at initialisation.
* ``"numerical check"`` — a formula against an independent computation (e.g. a gradient against autograd).
* ``"by construction"`` — true by the definitions the chapter uses; shown, but not evidence about the paper.
* ``"extension"`` — our reading, stricter or more literal than the paper's sentence (which ``quote`` gives); shown
  and judged like an empirical claim (with gates when it rests on trained models; a reading checked by computation
  alone, such as a formula taken literally, needs none), but counted apart: not evidence about the paper.

The verdict is one of :data:`VERDICTS` and is derived, never typed in:

* ``"not tested"`` — a gate failed its quorum (the reason names the gate and how many seeds passed), the seeds that
  pass every gate fall below the quorum, or the profile drops the part (``not_tested="needs the gpu profile"``);
* otherwise ``outcome`` decides: ``True`` → ``"reproduced"``, ``False`` → ``"not reproduced"``, ``None`` →
  ``"inconclusive"`` (trained models, but the seeds disagree or the interval straddles the criterion — see
  :func:`meets`).

So a claim is ``"not reproduced"`` only when its gates pass. Building a claims table (:func:`claims_markdown`)
refuses a gate without its independence sentence and an empirical claim without its quoted sentence.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

import numpy as np

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "not tested")
KINDS = ("empirical", "numerical check", "by construction", "extension")
PAPER_KINDS = KINDS[:3]  # the kinds counted as claims about the paper; "extension" rows are counted apart
QUOTED_KINDS = ("empirical", "extension")  # kinds that test a sentence of the paper and must quote it
QUORUM = 0.8  # a gate passes when at least this share of its seeds pass: fixed, the same for every chapter
DIRECTIONS = (">=", "<=", ">", "<")
SIGNS = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}  # how a direction is printed
MIN_SEEDS_FOR_BOOTSTRAP = 5


def _holds(value: float, direction: str, threshold: float) -> bool:
    return {">=": value >= threshold, "<=": value <= threshold, ">": value > threshold,
            "<": value < threshold}[direction]


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")


def _fmt(x: float) -> str:
    return "not computable" if not math.isfinite(x) else f"{x:.3g}"


def _quorum_count(n_seeds: int, quorum: float) -> int:
    """How many of ``n_seeds`` must pass for ``quorum``: ⌈quorum · n⌉ (4 of 5 and 8 of 10 at 0.8, 1 of 1)."""
    return max(1, math.ceil(quorum * n_seeds - 1e-9))


@dataclass(frozen=True)
class Gate:
    """A training gate judged on a quorum of seeds: each seed's measurement in ``values`` ``(n_seeds,)`` must satisfy
    ``value <direction> threshold``, and the gate passes when at least ``quorum`` of the seeds do (a NaN or infinite
    value fails its seed: it could not be measured). ``independence`` is one sentence: what the gate certifies and
    why that is independent of the claim it guards (required when a claims table is built)."""

    name: str
    measurement: str
    values: tuple[float, ...]
    threshold: float
    direction: str = ">="
    independence: str = ""
    quorum: float = QUORUM

    def __post_init__(self):
        _check_direction(self.direction)
        values = tuple(float(v) for v in np.atleast_1d(np.asarray(self.values, dtype=float)).ravel())
        if not values:
            raise ValueError(f"gate {self.name!r} has no measurements: pass at least one value")
        if not 0 < self.quorum <= 1:
            raise ValueError(f"gate {self.name!r}: quorum must lie in (0, 1], got {self.quorum}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "threshold", float(self.threshold))

    @property
    def seed_passes(self) -> tuple[bool, ...]:
        """Whether each seed passes ``(n_seeds,)``; a non-finite value fails."""
        return tuple(math.isfinite(v) and _holds(v, self.direction, self.threshold) for v in self.values)

    @property
    def n_seeds(self) -> int:
        return len(self.values)

    @property
    def n_passed(self) -> int:
        return sum(self.seed_passes)

    @property
    def needed(self) -> int:
        """How many seeds must pass: ⌈quorum · n_seeds⌉."""
        return _quorum_count(self.n_seeds, self.quorum)

    @property
    def passed(self) -> bool:
        return self.n_passed >= self.needed

    @property
    def value(self) -> float:
        """The worst seed's value (NaN when a seed is not computable): the number older tables showed."""
        if not all(math.isfinite(v) for v in self.values):
            return math.nan
        return min(self.values) if self.direction in (">=", ">") else max(self.values)

    def kept(self, values: Sequence[float]) -> np.ndarray:
        """Per-seed measurements ``(n_seeds,)`` of the claim this gate guards, restricted to the seeds that pass it."""
        return _restrict(values, np.array(self.seed_passes), self.name)

    def seed_text(self) -> str:
        """Each seed's value, e.g. ``"8, 7, 5"``."""
        return ", ".join(_fmt(v) for v in self.values)

    def describe(self) -> str:
        """One line: ``name: n of N seeds pass (needs ≥ threshold, quorum q; per seed …) — passed|failed``."""
        state = "passed" if self.passed else "failed"
        per_seed = f"per seed {self.seed_text()}" if self.n_seeds > 1 else _fmt(self.values[0])
        return (f"{self.name}: {self.n_passed} of {self.n_seeds} seeds pass (each needs {SIGNS[self.direction]} "
                f"{self.threshold:g}, quorum {self.needed}; {per_seed}) — {state}")


def gate(name: str, measurement: str, values: Sequence[float] | float, threshold: float, direction: str = ">=", *,
         independence: str = "", quorum: float = QUORUM) -> Gate:
    """A gate over per-seed measurements ``values`` ``(n_seeds,)`` (or one number): it passes when at least
    ``quorum`` (default :data:`QUORUM`) of the seeds satisfy ``value <direction> threshold``; a non-finite value
    fails its seed. ``independence``: what the gate certifies and why that is independent of the claim it guards."""
    return Gate(name, measurement, tuple(np.atleast_1d(np.asarray(values, dtype=float)).ravel().tolist()), threshold,
                direction, independence, quorum)


def _restrict(values: Sequence[float], mask: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if array.shape != mask.shape:
        raise ValueError(f"{name}: {array.size} per-seed values for {mask.size} seeds; pass one value per seed of "
                         "the gate, in the gate's order")
    return array[mask]


def passing_seeds(gates: Sequence[Gate]) -> np.ndarray:
    """The seeds ``(n_seeds,)`` (a boolean mask) that pass every gate in ``gates``, which must all cover the same
    seeds in the same order: the seeds a claim is measured over."""
    gates = list(gates)
    if not gates:
        raise ValueError("passing_seeds needs at least one gate")
    sizes = {g.n_seeds for g in gates}
    if len(sizes) > 1:
        counts = ", ".join(f"{g.name!r}: {g.n_seeds}" for g in gates)
        raise ValueError(f"passing_seeds needs gates over the same seeds; got {counts}")
    return np.logical_and.reduce([np.array(g.seed_passes) for g in gates])


def over_passing_seeds(values: Sequence[float], gates: Sequence[Gate]) -> np.ndarray:
    """A claim's per-seed measurements ``(n_seeds,)`` restricted to the seeds that pass every gate ``(n_kept,)``."""
    return _restrict(values, passing_seeds(gates), ", ".join(g.name for g in gates))


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
        if not self.values:
            return "no seed passes the gates"
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


def interval_over_passing_seeds(values: Sequence[float], gates: Sequence[Gate], level: float = 0.95) -> Interval:
    """The interval of a claim's per-seed measurements ``(n_seeds,)`` over the seeds that pass every gate in ``gates``
    (:func:`over_passing_seeds`, :func:`bootstrap_interval`). When no seed passes it is empty and undecided (its
    claim then reads *not tested* by its gates), rather than an error that would stop the chapter."""
    kept = over_passing_seeds(values, gates)
    if kept.size == 0:
        return Interval(math.nan, math.nan, math.nan, (), level)
    return bootstrap_interval(kept, level)


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
    profile drops it (an extension names them when it rests on trained models)."""

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
    quote: str = field(default="", kw_only=True)

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
    def seeds(self) -> tuple[int, int] | None:
        """``(n, N)``: of the N seeds its gates cover, how many pass every gate — when all its gates cover the same
        N > 1 seeds; else ``None``."""
        sizes = {g.n_seeds for g in self.gates}
        if len(sizes) != 1 or sizes == {1}:
            return None
        return int(passing_seeds(self.gates).sum()), sizes.pop()

    @property
    def seeds_text(self) -> str:
        """``"n of N seeds"`` (see :attr:`seeds`), or empty."""
        return f"{self.seeds[0]} of {self.seeds[1]} seeds" if self.seeds else ""

    @property
    def _too_few_together(self) -> bool:
        """Every gate passes its quorum, but the seeds that pass them all do not reach it."""
        if self.seeds is None:
            return False
        return self.seeds[0] < _quorum_count(self.seeds[1], min(g.quorum for g in self.gates))

    @property
    def verdict(self) -> str:
        """One of :data:`VERDICTS`, derived from the gates and the outcome."""
        if self.not_tested or self.failed_gates or self._too_few_together:
            return "not tested"
        return {True: "reproduced", False: "not reproduced", None: "inconclusive"}[self.outcome]

    @property
    def reason(self) -> str:
        """Why a claim is not tested: the profile's reason and every failed gate with its seeds; else empty."""
        parts = [self.not_tested] if self.not_tested else []
        parts += [f"gate failed — {g.describe()}" for g in self.failed_gates]
        if not self.failed_gates and self._too_few_together:
            parts.append(f"its gates pass together in only {self.seeds_text} (below the quorum)")
        return "; ".join(parts)

    def check_statements(self) -> None:
        """Refuse a claim a table cannot show: an empirical or extension claim without the paper's quoted sentence,
        or a gate without its independence sentence. Raises ``ValueError`` naming the claim or gate and the fix."""
        if self.kind in QUOTED_KINDS and not self.quote.strip():
            raise ValueError(f"the {self.kind} claim {self.claim[:70]!r} quotes no sentence of the paper: pass "
                             f"quote='“…” (Sec. N)' with the sentence it tests and its section")
        for g in self.gates:
            if not g.independence.strip():
                raise ValueError(f"the gate {g.name!r} (claim {self.claim[:50]!r}) states no independence: pass "
                                 "independence='<what it certifies and why that is independent of the claim>' to "
                                 "gate()")

    def record(self) -> dict:
        """The claim as plain JSON-able data (stored in the notebook's output metadata for the overview)."""
        return json.loads(json.dumps(asdict(self) | {
            "verdict": self.verdict, "reason": self.reason, "seeds": self.seeds_text,
            "gates": [asdict(g) | {"value": g.value, "passed": g.passed, "n_passed": g.n_passed, "needed": g.needed,
                                   "text": g.describe()} for g in self.gates]}, default=str))


BADGE = {"reproduced": "success", "not reproduced": "danger", "inconclusive": "warning", "not tested": "secondary"}


def verdict_badge(verdict: str) -> str:
    """A coloured badge (sphinx-design's ``bdg`` role) with the verdict as text, so it reads without colour too."""
    return f"{{bdg-{BADGE[verdict]}}}`{verdict}`"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(claims: list[Claim], profile: str, device: str) -> str:
    """The claims table as MyST Markdown — the verdict first, then the claim with its kind and the paper's sentence,
    the measurement and value (with "n of N seeds"), the criterion — followed by the gates table (each gate's
    independence sentence and every seed's value) and the profile and device the numbers come from. Refuses (one
    ``ValueError``) a claim or gate without its statements (:meth:`Claim.check_statements`)."""
    for c in claims:
        c.check_statements()
    rows = ["| verdict | claim | measured | criterion (fixed before the run) |",
            "| --- | --- | --- | --- |"]
    for c in claims:
        verdict = verdict_badge(c.verdict) + (f" {c.reason}" if c.reason else "")
        claim = f"{c.claim} *({c.kind})*" + (f" — the paper: {c.quote}" if c.quote else "")
        measured = (f"{c.measurement}: **{c.value}**" + (f" ({c.seeds_text})" if c.seeds_text else "")
                    + (f" — untrained control: {c.control}" if c.control else ""))
        rows.append("| " + " | ".join(_cell(x) for x in (verdict, claim, measured, c.criterion)) + " |")
    gates = {g.name: g for c in claims for g in c.gates}
    if gates:
        rows += ["", f"Training gates (fixed before the run; each passes when at least {QUORUM:.0%} of its seeds pass, "
                 "and a claim whose gate fails reads *not tested*):", "",
                 "| gate | what it certifies, and why that is independent of the claim | measurement | per seed | "
                 "each seed needs | seeds passing | passed |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for g in gates.values():
            rows.append("| " + " | ".join(_cell(x) for x in (
                g.name, g.independence, g.measurement, g.seed_text(), f"{SIGNS[g.direction]} {g.threshold:g}",
                f"{g.n_passed} of {g.n_seeds} (quorum {g.needed})", "yes" if g.passed else "**no**")) + " |")
    paper = [c for c in claims if c.kind in PAPER_KINDS]
    extensions = [c for c in claims if c.kind not in PAPER_KINDS]
    counts = {v: sum(c.verdict == v for c in paper) for v in VERDICTS}
    summary = f"{len(paper)} claims about the paper: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ". "
    if extensions:
        summary += (f"{len(extensions)} extension{'s' if len(extensions) > 1 else ''} (our readings, not counted): "
                    + ", ".join(f"{n} {v}" for v in VERDICTS if (n := sum(c.verdict == v for c in extensions)))
                    + ". ")
    rows += ["", summary + f"Measured at the `{profile}` profile on {device}."]
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
