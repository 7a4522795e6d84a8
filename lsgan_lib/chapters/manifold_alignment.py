"""What is specific to the manifold-alignment chapter (Lui et al., *Implicit Manifold Learning on GANs*, Section 5):
what a run's samples cover on the chapter's toy data, the one "learned" training gate every objective is held to, the
check that a W2² estimator ranks the data above a ring, the mode-collapse criterion of the W2 conjecture, and Sec.
4.2's missing-modes test (a generator pre-trained on 4 of the 8 Gaussians, continued with the minimax or the −log D
loss against a well-trained discriminator). The paper's analytic objects (curve distributions, exact JSD, transport
maps, the gradient weights of Props. 4.1-4.2) are in :mod:`lsgan_lib.measure.alignment`."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch

from .. import cache
from ..data.distributions import EIGHT_GAUSSIANS_CENTRES, circle_angle, circle_r10_angle, data_manifold
from ..measure.claims import Gate, bootstrap_interval, gate, meets
from ..measure.metrics import circle_statistics, mode_statistics
from ..models.objectives import minibatch_w2_loss, minimax_critic_loss, objective
from ..train.config import GANConfig, GANRun, build_networks, evaluation_inputs, random_stream
from ..train.cluster import map_here_or_on_cluster, train_here_or_on_cluster


CIRCLE_ANGLES = {"circle": circle_angle, "circle_r10": circle_r10_angle}  # the circles' angle maps (arcs)


def support_statistics(data: str, samples: torch.Tensor, min_per_mode: int = 20, eps_circle: float = 0.1,
                       n_arcs: int = 12) -> dict[str, float]:
    """Mode coverage and on-support share of generated ``samples`` ``(m, d)`` on a toy data set of the chapter.

    Gaussian mixtures: VEEGAN's rule (:func:`lsgan_lib.measure.metrics.mode_statistics`: within 3σ of a centre is on the
    support, a mode with ≥ ``min_per_mode`` such samples is covered). The circles (``circle`` in R^2, ``circle_r10``):
    the support is within ``eps_circle`` of the curve, which is cut into ``n_arcs`` equal arcs counted like modes
    (:func:`lsgan_lib.measure.metrics.circle_statistics`). Returns ``modes_covered``, ``n_modes`` and ``high_quality``
    (the on-support share)."""
    manifold = data_manifold(data)
    if manifold.centres:
        stats = mode_statistics(samples, torch.tensor(manifold.centres), manifold.std, min_per_mode=min_per_mode)
        n_modes = len(manifold.centres)
    elif data in CIRCLE_ANGLES:
        stats = circle_statistics(samples, manifold.distance_to_support, CIRCLE_ANGLES[data], eps_circle, n_arcs,
                                  min_per_mode)
        n_modes = n_arcs
    else:
        raise ValueError(f"support_statistics knows the Gaussian mixtures and {sorted(CIRCLE_ANGLES)}, not {data!r}")
    return {"modes_covered": float(stats["modes_covered"]), "n_modes": n_modes,
            "high_quality": float(stats["high_quality"])}


NEAR_SUPPORT_RADIUS_IN_STD = 10.0  # the "learned" gate's radius on the Gaussian mixtures
NEAR_SUPPORT_CIRCLE = 0.5  # and its distance to the circle in R^10 (5x the on-support eps_circle of 0.1)
# ... and to the circle in R^2: about the 8 Gaussians' 10σ (0.14). In the plane an untrained He-uniform generator
# already spreads over the circle's neighbourhood (0.36-0.51 of its samples within 0.5, 0.15-0.21 within 0.2; seeds
# 500-502), so the radius is tighter than in R^10, and the gate is judged relative to the untrained generator
# (learned_gate).
NEAR_SUPPORT_CIRCLE_R2 = 0.15


def near_support_share(data: str, samples: torch.Tensor) -> float:
    """The share of generated ``samples`` ``(m, d)`` near the data's support: within
    :data:`NEAR_SUPPORT_RADIUS_IN_STD`·σ of some centre (Gaussian mixtures) or within :data:`NEAR_SUPPORT_CIRCLE` of
    the circle in R^10. The measurement of the chapter's one "learned" gate: a generator that collapsed onto one
    mode passes it as well as one that covers all, while an untrained generator (a blob near the origin) does not.
    On the circle in R^2 the distance is :data:`NEAR_SUPPORT_CIRCLE_R2`."""
    manifold = data_manifold(data)
    if manifold.centres:
        centres = torch.tensor(manifold.centres, dtype=torch.float32)
        nearest = torch.cdist(samples.float(), centres).min(dim=1).values
        return float((nearest <= NEAR_SUPPORT_RADIUS_IN_STD * manifold.std).float().mean())
    if data in CIRCLE_ANGLES:
        radius = NEAR_SUPPORT_CIRCLE if data == "circle_r10" else NEAR_SUPPORT_CIRCLE_R2
        return float((manifold.distance_to_support(samples.float()) <= radius).float().mean())
    raise ValueError(f"near_support_share knows the Gaussian mixtures and {sorted(CIRCLE_ANGLES)}, not {data!r}")


LEARNED_GAIN = 0.3  # the "learned" gate: the near-support share rises by at least this over the untrained generator


def learned_gate(label: str, data: str, share_final: Sequence[float], share_init: Sequence[float],
                 min_gain: float = LEARNED_GAIN) -> Gate:
    """The one "learned" gate every objective of the chapter is held to: per seed, the :func:`near_support_share` of
    the generator after training minus that of the same generator at initialisation (``share_final``, ``share_init``,
    one value per seed) is at least ``min_gain``; judged on the quorum of seeds. A generator that collapsed onto one
    mode, or that drew a ring through the modes, passes it; one that did not move its samples toward the data, or
    scattered them, fails. (The threshold: on held-out seeds 700-705, bench/README.md ``alignment_init_pilot.py``,
    every trained JSD GAN gained ≥ 0.36 over its untrained share of ≤ 0.03, except one run collapsed onto no mode.)"""
    final, init = np.asarray(share_final, dtype=float), np.asarray(share_init, dtype=float)
    if final.shape != init.shape or final.size == 0 or final.ndim != 1:
        raise ValueError(f"learned_gate needs equal, non-empty per-seed lists, got shapes {final.shape} and "
                         f"{init.shape}")
    if not 0 < min_gain <= 1:
        raise ValueError(f"learned_gate: min_gain is a share gain in (0, 1], got {min_gain}")
    return gate(f"{label} on {data}: learned", "near-support share after training − at initialisation, per seed",
                final - init, min_gain, ">=",
                independence=f"{label} moved its samples toward the data's support, which a generator collapsed onto "
                             "few modes, or spread along a ring between them, also does: it measures closeness to the "
                             "support, not the mode counts or the on-support share the claims compare")


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


# ---------------------------------------------------------------------------------------------------------------------
# Does a W2² estimator rank the data above a ring? (issue 28, item 3; bench/README.md, w2_estimators.py)
# ---------------------------------------------------------------------------------------------------------------------


def uniform_ring(n: int, radius: float, generator: torch.Generator) -> torch.Tensor:
    """``(n, 2)`` points uniform on the circle of ``radius`` about the origin."""
    angle = 2 * math.pi * torch.rand(n, generator=generator, device=generator.device)
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def estimator_ranking(batch_size: int, n_batches: int, seed: int = 0) -> dict:
    """Whether the W2 GAN's loss at batch size ``batch_size`` — the exact OT cost W2² between two independent batches —
    ranks the 8 Gaussians above a uniform ring through their centres: ``n_batches`` fresh draws each of data vs data
    and ring vs data. Returns ``{"data": Interval, "ring": Interval, "prefers_data": True | False | None}``:
    ``True`` when the data-vs-data 95% bootstrap interval lies wholly below the ring-vs-data one (a generator that
    draws the data scores lower than the ring), ``False`` when it lies wholly above, ``None`` when they overlap."""
    if batch_size < 2 or n_batches < 2:
        raise ValueError(f"estimator_ranking needs batch_size >= 2 and n_batches >= 2, got {batch_size}, {n_batches}")
    manifold = data_manifold("eight_gaussians")
    radius = float(torch.tensor(manifold.centres[0]).norm())
    generator = torch.Generator().manual_seed(seed)
    data, ring = [], []
    for _ in range(n_batches):
        x, y = manifold.sample(batch_size, generator).double(), manifold.sample(batch_size, generator).double()
        data.append(float(minibatch_w2_loss(x, y)))
        ring.append(float(minibatch_w2_loss(uniform_ring(batch_size, radius, generator).double(), y)))
    data_i, ring_i = bootstrap_interval(data), bootstrap_interval(ring)
    prefers = True if data_i.high < ring_i.low else (False if data_i.low > ring_i.high else None)
    return {"data": data_i, "ring": ring_i, "prefers_data": prefers}


def estimator_reason(batch_size: int, ranking: dict) -> str:
    """Why the W2 GAN's rows at ``batch_size`` are not judged (its estimator does not prefer the data), or ``""``."""
    if ranking["prefers_data"] is True:
        return ""
    how = ("ranks the ring above the data" if ranking["prefers_data"] is False
           else "does not separate the data from the ring")
    return (f"the W2 GAN's loss at B = {batch_size} {how} (data vs data {ranking['data']}, ring vs data "
            f"{ranking['ring']}): the run trains on a biased estimator of W2²")


# ---------------------------------------------------------------------------------------------------------------------
# Sec. 4.2 directly: does the minimax generator find missing modes better than −log D?
# ---------------------------------------------------------------------------------------------------------------------

KEPT_MODES = (0, 2, 4, 6)  # the 8 Gaussians' modes the generator is pre-trained on (four_of_eight_gaussians)
MISSING_MODES = (1, 3, 5, 7)  # the modes it has never seen
CONTINUED_LOSSES = ("minimax", "non_saturating")  # the two generator losses of Eqs. (5)-(6)
MISSING_MODES_CACHE_KIND = "missing_modes"


def pretraining_config(seed: int, n_iter: int, width: int, batch_size: int = 256, init: str = "he_uniform",
                       n_eval: int = 2500, precision: str = "fp32") -> GANConfig:
    """The pre-training run of Sec. 4.2's test: the WGAN-GP toy reference (λ = 0.1, Adam 1e-4 with β = (0.5, 0.9),
    5 critic steps; 3 × ``width`` ReLU nets) on the 8 Gaussians' modes :data:`KEPT_MODES` alone, ``n_iter``
    generator iterations, snapshots at 0 (the untrained control) and at the end."""
    return GANConfig(data="four_of_eight_gaussians", objective="wgan_gp_toy", n_iter=n_iter, batch_size=batch_size,
                     lr=1e-4, lr_decay=1.0, n_critic=5, widths=(width, width, width), batch_norm=False,
                     activation="relu", snapshots=(0, n_iter), n_eval=n_eval, seed=seed, init=init,
                     precision=precision)


def mode_counts(samples: torch.Tensor, min_per_mode: int = 20) -> dict[str, int]:
    """Of the 8 Gaussians' modes, how many the samples ``(m, 2)`` cover (3σ, ≥ ``min_per_mode``), split into the
    pre-training modes (``kept``, of 4) and the others (``missing``, of 4: "recovered" after continuing)."""
    manifold = data_manifold("eight_gaussians")
    per_mode = mode_statistics(samples, torch.tensor(manifold.centres), manifold.std,
                               min_per_mode=min_per_mode)["per_mode"]
    return {"kept": sum(per_mode[k] >= min_per_mode for k in KEPT_MODES),
            "missing": sum(per_mode[k] >= min_per_mode for k in MISSING_MODES)}


def _adam(params, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))  # the DCGAN reference optimizer


def _critic_on(critic, x: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.sigmoid(critic(x)).mean())


def continue_against_critic(pretrained: GANRun, critic_iter: int, n_iter: int, snapshots: Sequence[int] = (),
                            n_critic: int = 1, lr: float = 2e-4, batch_size: int = 256, progress=None) -> dict:
    """Sec. 4.2's test for one seed (the seed of ``pretrained``, a run of :func:`pretraining_config`).

    A fresh logistic discriminator (3 × width ReLU, the run's initialisation) is trained for ``critic_iter`` steps to
    tell the full 8 Gaussians from the pre-trained generator's samples (generator fixed): the well-trained critic.
    From there the same generator and critic are continued twice, once per loss of :data:`CONTINUED_LOSSES` (the
    minimax generator loss E[log(1 − D(G(z)))], Eq. (6), and −log D, Eq. (5)), for ``n_iter`` iterations of
    ``n_critic`` discriminator steps and one generator step, Adam ``lr`` with β = (0.5, 0.999), batch
    ``batch_size``, on the same data and latent batches. Returns ``{"critic_on_missing", "critic_on_generated",
    "snapshot_iters", <loss>: (n_snapshots, n_eval, 2) samples}``: the critic's mean D on real samples of
    :data:`MISSING_MODES` and on generated samples after its training, and the generated samples (the run's fixed
    evaluation latents) at 0 and at each snapshot. Cached in the results cache by the pre-training configuration and
    these arguments. Nothing touches the global random state. Under a Dask client
    (``$LSGAN_SCHEDULER``, as ``lsgan-book run --scheduler`` sets it) it runs as a task on a worker, with the worker's
    torch threads (one in the book's recipe), and this process caches the result; otherwise here, with this process's
    threads (in a kernel with two threads, a busy second core made it 8-33× slower: bench/thread_contention.py).
    ``progress`` (a :class:`lsgan_lib.train.progress.ProgressBar` shared by the seeds, or ``None``) counts this seed's
    iterations (critic steps and both continuations) as they run, or all at once when a worker ran them; a cached
    result counts none."""
    config = pretrained.config
    if config.data != "four_of_eight_gaussians":
        raise ValueError(f"continue_against_critic continues a generator pre-trained on 'four_of_eight_gaussians' "
                         f"(pretraining_config), got one trained on {config.data!r}")
    for name, value in (("critic_iter", critic_iter), ("n_iter", n_iter), ("n_critic", n_critic),
                        ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"continue_against_critic: {name} must be >= 1, got {value}")
    if not lr > 0:
        raise ValueError(f"continue_against_critic: lr must be > 0, got {lr}")
    iters = sorted({int(s) for s in snapshots if 0 <= s <= n_iter} | {0, n_iter})
    key = {"pretraining": config.as_dict(), "critic_iter": critic_iter, "n_iter": n_iter, "snapshots": iters,
           "n_critic": n_critic, "lr": lr, "batch_size": batch_size, "losses": list(CONTINUED_LOSSES)}

    def compute() -> dict:
        part = progress.part(critic_iter + len(CONTINUED_LOSSES) * n_iter) if progress is not None else None
        return train_here_or_on_cluster(_continue_task, (pretrained, critic_iter, n_iter, iters, n_critic, lr,
                                                         batch_size), None, part)

    payload, _ = cache.cached(MISSING_MODES_CACHE_KIND, key, compute)
    return payload


def continue_seeds(pretrained: Sequence[GANRun], critic_iter: int, n_iter: int, snapshots: Sequence[int] = (),
                   n_critic: int = 1, lr: float = 2e-4, batch_size: int = 256, progress=None) -> list[dict]:
    """:func:`continue_against_critic` for each pre-trained run (one per seed), results in the same order. Under a
    Dask client every seed is submitted at once, each a task on a worker (as :func:`lsgan_lib.train.batched.train_sweep`
    submits its batches), so the seeds spread over the workers; without one they run here, one after another."""
    def one(run: GANRun) -> dict:
        return continue_against_critic(run, critic_iter, n_iter, snapshots, n_critic=n_critic, lr=lr,
                                       batch_size=batch_size, progress=progress)

    return map_here_or_on_cluster(one, pretrained)


def _minimax_critic_step(generator: torch.nn.Module, critic: torch.nn.Module, optimizer: torch.optim.Optimizer,
                         data, batch_size: int, latent_dim: int, stream: torch.Generator) -> None:
    """One minimax (JSD) discriminator step, the generator held fixed: ``batch_size`` latents ``(batch, latent_dim)``
    and then as many data points ``(batch, 2)`` drawn from ``stream``, in that order."""
    with torch.no_grad():
        fake = generator(torch.randn(batch_size, latent_dim, generator=stream))
    loss = minimax_critic_loss(critic(data.sample(batch_size, stream)), critic(fake))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _continue_task(work: tuple, device, progress) -> dict:
    """:func:`_continue` as a trainer of :func:`lsgan_lib.train.cluster.train_here_or_on_cluster` (``work``: its
    arguments up to ``batch_size``). ``device`` is not used: the continuation trains on the CPU wherever it runs."""
    return _continue(*work, progress)


def _continue(pretrained: GANRun, critic_iter: int, n_iter: int, iters: list[int], n_critic: int, lr: float,
              batch_size: int, progress=None) -> dict:
    def advance() -> None:
        if progress is not None:
            progress.update()

    config = dataclasses.replace(pretrained.config, data="eight_gaussians")
    data = data_manifold("eight_gaussians")
    device = torch.device("cpu")
    _, critic = build_networks(config)  # fresh, the run's initialisation
    generator = copy.deepcopy(pretrained.generator).cpu().train()
    z_eval, _ = evaluation_inputs(pretrained.config, device)
    critic_optimizer = _adam(critic.parameters(), lr)
    warmup = random_stream(config.seed, 10, device)
    for _ in range(critic_iter):  # the well-trained critic: the generator held fixed
        _minimax_critic_step(generator, critic, critic_optimizer, data, batch_size, config.latent_dim, warmup)
        advance()
    probe = random_stream(config.seed, 11, device)
    real = data.sample(8000, probe)
    nearest = torch.cdist(real, torch.tensor(EIGHT_GAUSSIANS_CENTRES)).argmin(dim=1)
    on_missing = real[torch.isin(nearest, torch.tensor(MISSING_MODES))]
    with torch.no_grad():
        generated = generator(z_eval)
    out = {"critic_on_missing": _critic_on(critic, on_missing), "critic_on_generated": _critic_on(critic, generated),
           "snapshot_iters": iters}
    start = (copy.deepcopy(generator.state_dict()), copy.deepcopy(critic.state_dict()),
             copy.deepcopy(critic_optimizer.state_dict()))
    for name in CONTINUED_LOSSES:
        loss_of = objective(name)
        generator.load_state_dict(start[0]), critic.load_state_dict(start[1])
        critic_optimizer = _adam(critic.parameters(), lr)
        critic_optimizer.load_state_dict(start[2])
        generator_optimizer = _adam(generator.parameters(), lr)
        stream = random_stream(config.seed, 12, device)  # the same batches for both losses
        frames = []
        for it in range(n_iter + 1):
            if it in iters:
                with torch.no_grad():
                    frames.append(generator(z_eval).detach().clone())
            if it == n_iter:
                break
            for _ in range(n_critic):
                _minimax_critic_step(generator, critic, critic_optimizer, data, batch_size, config.latent_dim, stream)
            fake = generator(torch.randn(batch_size, config.latent_dim, generator=stream))
            loss = loss_of.generator_loss(critic, fake)
            generator_optimizer.zero_grad()
            loss.backward()
            generator_optimizer.step()
            advance()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"Sec. 4.2 continuation with {name}, seed {config.seed}: the generator loss "
                                         f"became {float(loss)} at iteration {it + 1}; lower lr (now {lr})")
        out[name] = torch.stack(frames)
    return out


def missing_modes_gates(pre_kept: Sequence[float], pre_missing: Sequence[float], critic_on_missing: Sequence[float],
                        min_kept: int = 3, min_critic: float = 0.9) -> tuple[Gate, ...]:
    """The gates of Sec. 4.2's test, per seed: the pre-trained generator covers ≥ ``min_kept`` of the 4 modes it was
    trained on and none of the 4 others (the test's premise: it misses modes), and the critic's mean D on real samples
    of the missing modes is ≥ ``min_critic`` (it is well trained where the generator is missing)."""
    independence_pre = ("the generator learned its 4 modes before the test and misses the other 4 — the premise of "
                        "the test, measured before either loss continues it, so it cannot favour one of them")
    return (gate("Sec. 4.2 pre-training: kept modes covered",
                 "modes of the 4 pre-training modes covered (3σ), per seed", pre_kept, min_kept, ">=",
                 independence=independence_pre),
            gate("Sec. 4.2 pre-training: missing modes covered", "modes of the 4 missing modes covered at the start, "
                 "per seed", pre_missing, 0, "<=", independence=independence_pre),
            gate("Sec. 4.2 critic: well trained on the missing modes", "the critic's mean D(x) on real samples of the "
                 "missing modes, per seed", critic_on_missing, min_critic, ">=",
                 independence="the discriminator both losses start from tells the missing modes' data from the "
                              "generator's samples; measured before either loss moves the generator"))
