"""What is specific to the manifold-alignment chapter (Lui et al., *Implicit Manifold Learning on GANs*, Section 5):
what a run's samples cover on the chapter's toy data, the baselines' training gates, and the mode-collapse criterion of
the W2 conjecture. The paper's analytic objects (curve distributions, exact JSD, transport maps, the gradient weights of
Props. 4.1-4.2) are in :mod:`lsgan_lib.measure.alignment`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data.distributions import circle_r10_angle, data_manifold
from ..measure.claims import bootstrap_interval, gate, meets
from ..measure.metrics import circle_statistics, mode_statistics


def support_statistics(data: str, samples: torch.Tensor, min_per_mode: int = 20, eps_circle: float = 0.1,
                       n_arcs: int = 12) -> dict[str, float]:
    """Mode coverage and on-support share of generated ``samples`` ``(m, d)`` on a toy data set of the chapter.

    Gaussian mixtures: VEEGAN's rule (:func:`lsgan_lib.measure.metrics.mode_statistics`: within 3σ of a centre is on the
    support, a mode with ≥ ``min_per_mode`` such samples is covered). Other data (the circle in R^10): the support is
    within ``eps_circle`` of the curve, which is cut into ``n_arcs`` equal arcs counted like modes
    (:func:`lsgan_lib.measure.metrics.circle_statistics`). Returns ``modes_covered``, ``n_modes`` and ``high_quality`` (the
    on-support share)."""
    manifold = data_manifold(data)
    if manifold.centres:
        stats = mode_statistics(samples, torch.tensor(manifold.centres), manifold.std, min_per_mode=min_per_mode)
        n_modes = len(manifold.centres)
    elif data == "circle_r10":
        stats = circle_statistics(samples, manifold.distance_to_support, circle_r10_angle, eps_circle, n_arcs,
                                  min_per_mode)
        n_modes = n_arcs
    else:
        raise ValueError(f"support_statistics knows the Gaussian mixtures and 'circle_r10', not {data!r}")
    return {"modes_covered": float(stats["modes_covered"]), "n_modes": n_modes,
            "high_quality": float(stats["high_quality"])}


NEAR_SUPPORT_RADIUS_IN_STD = 10.0  # the "learned" gate's radius on the Gaussian mixtures
NEAR_SUPPORT_CIRCLE = 0.5  # and its distance to the circle in R^10 (5x the on-support eps_circle of 0.1)


def near_support_share(data: str, samples: torch.Tensor) -> float:
    """The share of generated ``samples`` ``(m, d)`` near the data's support: within
    :data:`NEAR_SUPPORT_RADIUS_IN_STD`·σ of some centre (Gaussian mixtures) or within :data:`NEAR_SUPPORT_CIRCLE` of
    the circle in R^10. The measurement of the chapter's one "learned" gate: a generator that collapsed onto one
    mode passes it as well as one that covers all, while an untrained generator (a blob near the origin) does not."""
    manifold = data_manifold(data)
    if manifold.centres:
        centres = torch.tensor(manifold.centres, dtype=torch.float32)
        nearest = torch.cdist(samples.float(), centres).min(dim=1).values
        return float((nearest <= NEAR_SUPPORT_RADIUS_IN_STD * manifold.std).float().mean())
    if data == "circle_r10":
        return float((manifold.distance_to_support(samples) <= NEAR_SUPPORT_CIRCLE).float().mean())
    raise ValueError(f"near_support_share knows the Gaussian mixtures and 'circle_r10', not {data!r}")


def reference_gates(label: str, data: str, per_seed: Sequence[dict], min_modes: float | None = None,
                    min_share: float = 0.5) -> tuple:
    """Training gates for a baseline GAN on ``data``, from its per-seed :func:`support_statistics` (judged on
    the quorum of seeds): its on-support share ≥ ``min_share`` and, when ``min_modes`` is given, its modes covered ≥ ``min_modes``
    (the WGAN-GP reference's mode gate). Returns a tuple of :class:`lsgan_lib.measure.claims.Gate`."""
    if not per_seed:
        raise ValueError(f"reference_gates({label!r}, {data!r}) needs the statistics of at least one seed")
    gates = [gate(f"{label} on {data}: on-support share", f"share of {label}'s samples on the support, per seed",
                  [s["high_quality"] for s in per_seed], min_share,
                  independence=f"{label} moved its samples onto the data's support, which a generator that collapsed "
                               "onto few modes also does, so it does not presuppose the mode counts compared")]
    if min_modes is not None:
        gates.append(gate(f"{label} on {data}: modes covered", f"modes (arcs) {label} covers of "
                          f"{per_seed[0]['n_modes']}, per seed", [s["modes_covered"] for s in per_seed], min_modes,
                          independence=f"the reference {label} trained to cover the data; it guards comparisons of "
                                       "other models against this reference, not a claim about this model's modes"))
    return tuple(gates)


def learned_gate(label: str, data: str, w2_final: Sequence[float], w2_init: Sequence[float], max_ratio: float = 0.5):
    """A gate that a generator learned: its W2 to the data after training is at most ``max_ratio`` times the W2 of the
    same generator at initialisation, in every seed (``w2_final``, ``w2_init`` per seed). For the W2 GAN, which has no
    critic whose success could be checked."""
    final, init = np.asarray(w2_final, dtype=float), np.asarray(w2_init, dtype=float)
    if final.shape != init.shape or final.size == 0:
        raise ValueError(f"learned_gate needs equal, non-empty per-seed lists, got {final.shape} and {init.shape}")
    return gate(f"{label} on {data}: learned", "W2 to the data after training / at initialisation, per seed",
                final / init, max_ratio, "<=",
                independence=f"{label}'s samples came closer to the data than at initialisation, which a collapsed "
                             "but trained generator also achieves (it measures distance, not mode counts)")


def fewer_modes_outcome(differences: dict[str, Sequence[float]], strictly_more_than: Sequence[str] = ()
                        ) -> bool | None:
    """The mode-collapse criterion of the W2 conjecture at one setting, from per-seed differences
    ``(W2 GAN − baseline)`` of modes covered, one list per baseline: ``False`` when the 95% interval of some
    difference lies wholly below 0 (the W2 GAN covers fewer modes than that baseline); ``True`` when every interval
    is ≥ 0 and the interval for at least one baseline (of ``strictly_more_than``, default all) lies wholly above 0;
    ``None`` otherwise (straddles, or no baseline misses a mode the W2 GAN covers)."""
    intervals = {name: bootstrap_interval(values) for name, values in differences.items()}
    at_least = [meets(i, 0.0, ">=") for i in intervals.values()]
    if any(o is False for o in at_least):
        return False
    candidates = list(strictly_more_than) or list(intervals)
    more = [meets(intervals[name], 0.0, ">") for name in candidates]
    if all(o is True for o in at_least) and any(o is True for o in more):
        return True
    return None
