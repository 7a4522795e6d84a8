"""The level-set chapter's tools: Algorithm 1 with the critic's level sets recorded, and the paper's claims as numbers.

Sagel & Gottwald's Level Set GAN (Eq. (4)) trains a critic f whose zero level set f⁻¹(0) should model the data
manifold: the critic minimises L = E[f(x)²] − E[f(G(z))²], the generator minimises E[f(G(z))²] (Algorithm 1: one
critic step per data batch, then ``n_gen`` generator steps, each on a fresh latent batch, RMSprop). The loss and
networks live in :mod:`lsgan_lib.objectives` and :mod:`lsgan_lib.training`; this module adds what the chapter needs:

* :func:`train_level_set` — the toy loop of :func:`lsgan_lib.training._train` (the same random draws in the same
  order, so a run that stays finite has the same numbers as ``train_gan``), which additionally stores the critic's
  values on a grid over the plane at every snapshot (the level-set view), and *records* an explosion of L instead
  of raising: a run whose loss becomes non-finite stops there, keeps what it had, and is cached with
  ``diverged_at`` set, so the chapter can count divergences over seeds; :func:`train_level_set_runs` trains a sweep
  of them batched (:func:`lsgan_lib.batched.train_sweep`), cached per batch (:func:`lsgan_lib.batched.batch_keys`);
* :func:`loss_explosion` — max |L| and whether a run diverged;
* :func:`jacobian_determinants` and :func:`contraction_at_centres` — Fig. 1's "contracts the grid at the centres";
* :func:`orientation_consistency` — Fig. 1's "preserves the local structure of the grid" (no folds);
* :func:`anomaly_curves` — section 3's reading of the critic as an anomaly detector;
* :func:`class_coverage` and the small MNIST classifier of :func:`train_mnist_classifier` — mode coverage on MNIST.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from . import cache
from .distributions import data_manifold
from .objectives import objective, traits
from .batched import StackedFC, train_sweep
from .training import GANConfig, GANRun, ProgressBar, _train, build_networks, check_gan_payload, default_device

CACHE_KIND = "level_set_toy"
FIELD_POINTS = 81  # points per axis of the plane grid on which the critic's values are stored at each snapshot


@dataclass
class LevelSetRun:
    """A toy run with its critic's level sets.

    ``run`` is the ordinary :class:`~lsgan_lib.training.GANRun` (snapshots, grid images, losses ``(n_iter, 2)``:
    column 0 is L of Eq. (4) for the level-set objectives, recorded before each critic update). ``fields`` is
    ``(snapshots, P, P)``: f on the plane grid ``field_x`` × ``field_y`` (``(P,)`` each; ``fields[s, i, j]`` is f at
    ``(field_x[j], field_y[i])``, the layout of ``plt.contourf``). ``diverged_at`` is ``None`` or the first iteration
    whose loss was not finite: training stopped there, later losses are NaN and later snapshots repeat the last good
    one (``reached`` says how many snapshots were really taken).
    """

    run: GANRun
    fields: torch.Tensor
    field_x: torch.Tensor
    field_y: torch.Tensor
    diverged_at: int | None
    reached: int
    extra: dict = field(default_factory=dict)

    @property
    def config(self) -> GANConfig:
        return self.run.config

    @property
    def losses(self) -> torch.Tensor:
        return self.run.losses


def plane_grid(bounds: tuple[float, float, float, float], points: int = FIELD_POINTS
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A regular ``points × points`` grid over ``bounds = (xmin, xmax, ymin, ymax)``.

    Returns ``x`` ``(P,)``, ``y`` ``(P,)`` and the grid's points ``(P*P, 2)`` in row-major order over (y, x), so
    ``f(points).reshape(P, P)[i, j]`` is f at ``(x[j], y[i])``."""
    if points < 2:
        raise ValueError(f"plane_grid needs at least 2 points per axis, got {points}")
    xmin, xmax, ymin, ymax = bounds
    x, y = torch.linspace(xmin, xmax, points), torch.linspace(ymin, ymax, points)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return x, y, torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


@torch.no_grad()
def critic_field(critic: nn.Module | StackedFC, points: torch.Tensor, side: int) -> torch.Tensor:
    """The critic's values on a plane grid ``(side*side, 2)`` as ``(side, side)`` (CPU), in eval mode; for a stacked
    critic of K members (:class:`lsgan_lib.batched.StackedFC`) each member's, ``(K, side, side)``."""
    was_training = critic.training
    critic.eval()
    if isinstance(critic, StackedFC):
        values = critic(points.expand(critic.members, -1, -1)).reshape(critic.members, side, side).cpu()
    else:
        values = critic(points).reshape(side, side).cpu()
    critic.train(was_training)
    return values


def _train_with_fields(config: GANConfig, device: torch.device, bar, field_points: int) -> dict:
    """Algorithm 1 (or any objective of the toy loop with a critic): :func:`lsgan_lib.training._train`, storing the
    critic's field on the plane grid at every snapshot and recording a non-finite loss (``diverged_at``) instead of
    raising."""
    if not traits(objective(config.objective)).uses_critic:
        raise ValueError(f"train_level_set draws the critic's level sets; objective {config.objective!r} has no critic")
    _, _, plane = plane_grid(data_manifold(config.data).bounds, field_points)
    plane = plane.to(device)
    return _train(config, device, bar, record_divergence=True,
                  snapshot_extra=lambda generator, critic: {"fields": critic_field(critic, plane, field_points)})


def _from_payload(config: GANConfig, payload: dict, hit: bool) -> LevelSetRun:
    generator, critic = build_networks(config)
    generator.load_state_dict(payload["generator"]), critic.load_state_dict(payload["critic"])
    generator.eval(), critic.eval()
    run = GANRun(config=config, generator=generator, critic=critic, snapshot_iters=list(payload["snapshot_iters"]),
                 snapshots=payload["snapshots"], grid=payload["grid"], grid_images=payload["grid_images"],
                 losses=payload["losses"], device=payload["device"], seconds=float(payload["seconds"]),
                 from_cache=hit)
    at = int(payload["diverged_at"])
    field_x, field_y, _ = plane_grid(data_manifold(config.data).bounds, payload["fields"].shape[-1])
    return LevelSetRun(run=run, fields=payload["fields"], field_x=field_x, field_y=field_y,
                       diverged_at=None if at < 0 else at, reached=int(payload["reached"]))


def train_level_set(config: GANConfig, device: torch.device | str | None = None, field_points: int = FIELD_POINTS,
                    progress: bool = True, results_root=None, _bar=None) -> LevelSetRun:
    """Train ``config`` with the critic's field stored at every snapshot (or load it from the results cache).

    Diverged runs are cached too (with ``diverged_at``): an explosion of L is a result of this chapter, not an
    error. The returned networks are on the CPU in eval mode."""
    device = torch.device(device) if device is not None else default_device()
    key = config.as_dict() | {"field_points": field_points}
    own_bar = _bar is None and progress
    bar = ProgressBar(config.n_iter, config.describe(), leave=False) if own_bar else _bar
    try:
        payload, hit = cache.cached(CACHE_KIND, key, lambda: _train_with_fields(config, device, bar, field_points),
                                    results_root, check=lambda p: check_gan_payload(config, p))
    finally:
        if own_bar:
            bar.close()
    if hit and _bar is not None:
        _bar.skip(config.n_iter)
    return _from_payload(config, payload, hit)


def train_level_set_runs(configs: Sequence[GANConfig], device: torch.device | str | None = None,
                         field_points: int = FIELD_POINTS, progress: bool = True, results_root=None,
                         desc: str = "training") -> list[LevelSetRun]:
    """:func:`train_level_set` for a sweep of configurations, batched: the runs of one data set and shape train as one
    model (:func:`lsgan_lib.batched.train_sweep`), cached per batch (:func:`lsgan_lib.batched.batch_keys`: batching
    changes float rounding, so these entries are not those of :func:`train_level_set`). Returns the runs in the order
    given."""
    configs = list(configs)
    for config in configs:
        if not traits(objective(config.objective)).uses_critic:
            raise ValueError(f"train_level_set_runs draws the critic's level sets; objective {config.objective!r} "
                             "has no critic")
    runs: list[LevelSetRun | None] = [None] * len(configs)
    by_data: dict[str, list[int]] = {}
    for j, config in enumerate(configs):
        by_data.setdefault(config.data, []).append(j)
    for data, members in by_data.items():
        field_x, field_y, plane = plane_grid(data_manifold(data).bounds, field_points)
        device_ = torch.device(device) if device is not None else default_device()
        plane = plane.to(device_)
        trained = train_sweep([configs[j] for j in members], device_, progress, results_root, f"{desc}: {data}",
                              snapshot_extra=lambda generator, critic: {"fields": critic_field(critic, plane,
                                                                                               field_points)},
                              record_divergence=True, cache_kind=CACHE_KIND,
                              cache_key=lambda c: c.as_dict() | {"field_points": field_points})
        for j, run in zip(members, trained):
            runs[j] = LevelSetRun(run=run, fields=run.extra["fields"], field_x=field_x, field_y=field_y,
                                  diverged_at=run.extra["diverged_at"], reached=int(run.extra["reached"]))
    return runs


# ---------------------------------------------------------------------------------------------------------------------
# The paper's claims as numbers
# ---------------------------------------------------------------------------------------------------------------------


def loss_explosion(losses: torch.Tensor, threshold: float) -> dict[str, float | bool]:
    """How far the loss L (column 0 of ``losses`` ``(n_iter, 2)``) ran away.

    Returns ``max_abs`` (max |L| over the finite iterations), ``diverged`` (L became non-finite, or |L| exceeded
    ``threshold``) and ``final_abs`` (|L| averaged over the last 10% of the finite iterations)."""
    if threshold <= 0:
        raise ValueError(f"loss_explosion needs threshold > 0, got {threshold}")
    values = losses[:, 0]
    finite = torch.isfinite(values)
    kept = values[finite].abs()
    if kept.numel() == 0:
        return {"max_abs": math.inf, "diverged": True, "final_abs": math.inf}
    tail = kept[-max(1, kept.numel() // 10):]
    max_abs = float(kept.max())
    return {"max_abs": max_abs, "diverged": bool((~finite).any()) or max_abs > threshold,
            "final_abs": float(tail.mean())}


def jacobian_determinants(generator: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """|det ∂G/∂z| at each latent point ``(n, 2)`` of a generator from 2-d latents to the plane: shape ``(n,)``.

    The local area scale of the map: below 1 the generator contracts the latent grid there, above 1 it stretches it.
    """
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"jacobian_determinants needs 2-d latents (n, 2), got {tuple(z.shape)}")
    return signed_jacobian_determinants(generator, z).abs()


def signed_jacobian_determinants(generator: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """det ∂G/∂z ``(n,)`` at latent points ``(n, 2)`` (its sign is the map's local orientation)."""
    generator.eval()
    jac = torch.func.vmap(torch.func.jacrev(lambda v: generator(v[None])[0]))(z.detach())  # (n, 2, 2)
    if jac.shape[1:] != (2, 2):
        raise ValueError(f"jacobian_determinants needs a map from the plane to the plane, got Jacobians "
                         f"{tuple(jac.shape[1:])}")
    return torch.linalg.det(jac).detach()


def contraction_at_centres(generator: nn.Module, z: torch.Tensor, centres: torch.Tensor, near: float, far: float
                           ) -> dict[str, float]:
    """Fig. 1's "contracts the grid at the centres of the Gaussians", as a number.

    For latent points ``z`` ``(n, 2)`` (a regular latent grid), the generator's |det J| is compared between points
    mapped within ``near`` of a mode centre (``centres`` ``(k, 2)``) and points mapped farther than ``far`` from every
    centre (between the modes). Returns the medians ``near_det`` and ``between_det``, their ``ratio``
    (between / near: > 1 means the grid is contracted at the centres) and the point counts ``n_near``,
    ``n_between``. A count of 0 gives a NaN median."""
    if not 0 < near <= far:
        raise ValueError(f"contraction_at_centres needs 0 < near <= far, got near={near}, far={far}")
    with torch.no_grad():
        images = generator.eval()(z)
    distance = torch.cdist(images, centres.to(images)).min(dim=1).values
    dets = jacobian_determinants(generator, z)
    near_det = dets[distance <= near]
    between_det = dets[distance > far]

    def median(values):
        return float(values.median()) if values.numel() else math.nan

    ratio = median(between_det) / median(near_det) if near_det.numel() and between_det.numel() else math.nan
    return {"near_det": median(near_det), "between_det": median(between_det), "ratio": ratio,
            "n_near": int(near_det.numel()), "n_between": int(between_det.numel())}


def orientation_consistency(grid_image: torch.Tensor) -> float:
    """Share of the cells of a warped 2-d latent grid that keep the majority orientation (no fold), in [0.5, 1].

    ``grid_image`` is ``(p*p, 2)``, the generator's image of a row-major ``p × p`` latent grid. Each cell's
    orientation is the sign of the cross product of its two edge vectors; a map that preserves the grid's local
    structure keeps one orientation everywhere (1.0), a map that folds the grid flips some cells."""
    side = int(round(grid_image.shape[0] ** 0.5))
    if side * side != grid_image.shape[0] or grid_image.ndim != 2 or grid_image.shape[1] != 2 or side < 2:
        raise ValueError(f"orientation_consistency needs the image of a square latent grid (p*p, 2), got "
                         f"{tuple(grid_image.shape)}")
    mesh = grid_image.reshape(side, side, 2)
    a = mesh[1:, :-1] - mesh[:-1, :-1]  # along the first latent axis
    b = mesh[:-1, 1:] - mesh[:-1, :-1]  # along the second
    cross = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    positive = float((cross > 0).float().mean())
    return max(positive, 1 - positive)


@torch.no_grad()
def anomaly_curves(critic: nn.Module, real: torch.Tensor, generated: torch.Tensor, taus: torch.Tensor
                   ) -> dict[str, torch.Tensor | float]:
    """Section 3's anomaly-detector reading of the critic: the share of points inside the band |f| < τ.

    ``real`` ``(n, d)`` (held out, not trained on) and ``generated`` ``(m, d)``; ``taus`` ``(t,)``. Returns
    ``real_inside`` and ``generated_inside`` ``(t,)`` and ``auc``: the probability that a generated point has a larger
    |f| than a real one (ties count half) — 0.5 when |f| cannot tell them apart, 1 when every generated point lies
    farther from the zero level set than every real one."""
    critic.eval()
    f_real = critic(real).reshape(-1).abs().double()
    f_gen = critic(generated).reshape(-1).abs().double()
    inside_real = (f_real[None, :] < taus.double()[:, None]).double().mean(dim=1)
    inside_gen = (f_gen[None, :] < taus.double()[:, None]).double().mean(dim=1)
    return {"real_inside": inside_real.float(), "generated_inside": inside_gen.float(),
            "auc": separation_auc(f_real, f_gen)}


def separation_auc(negatives: torch.Tensor, positives: torch.Tensor) -> float:
    """P(positive > negative) + ½ P(tie) over all pairs of two score sets ``(n,)`` and ``(m,)`` (the ROC AUC)."""
    scores = torch.cat([negatives.reshape(-1), positives.reshape(-1)]).double()
    ranks = _average_ranks(scores)
    n, m = negatives.numel(), positives.numel()
    if n == 0 or m == 0:
        raise ValueError("separation_auc needs at least one score in each set")
    return float((ranks[n:].sum() - m * (m + 1) / 2) / (n * m))


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """1-based ranks with ties given their average rank, ``(n,)``."""
    order = torch.argsort(values, stable=True)
    sorted_values = values[order]
    ranks = torch.empty_like(values)
    ranks[order] = torch.arange(1, len(values) + 1, dtype=values.dtype)
    unique, inverse = torch.unique(sorted_values, return_inverse=True)
    if len(unique) < len(values):  # average the ranks of ties
        sums = torch.zeros(len(unique), dtype=values.dtype).index_add_(0, inverse, ranks[order])
        counts = torch.bincount(inverse, minlength=len(unique)).to(values.dtype)
        ranks[order] = (sums / counts)[inverse]
    return ranks


def class_coverage(labels: torch.Tensor, n_classes: int = 10, min_share: float = 0.0) -> dict[str, float | list]:
    """Mode coverage of generated images from their predicted classes ``(n,)``.

    Returns ``classes`` (how many classes hold more than ``min_share`` of the samples), ``kl_from_uniform``
    (KL(p ‖ uniform) = log K − H(p) in nats, 0 for a perfectly balanced histogram, log K for one class) and
    ``histogram`` (the count per class)."""
    if labels.ndim != 1 or labels.numel() == 0:
        raise ValueError(f"class_coverage needs a non-empty (n,) tensor of labels, got {tuple(labels.shape)}")
    counts = torch.bincount(labels.long(), minlength=n_classes)[:n_classes].double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"classes": int((p > min_share).sum()), "kl_from_uniform": float(math.log(n_classes) - entropy),
            "histogram": counts.long().tolist()}


# ---------------------------------------------------------------------------------------------------------------------
# A small MNIST classifier for counting the digit classes of generated images
# ---------------------------------------------------------------------------------------------------------------------

CLASSIFIER_KIND = "mnist_classifier"


def mnist_classifier_net() -> nn.Sequential:
    """A small LeNet-style CNN: ``(batch, 1, 28, 28)`` images in [−1, 1] → ``(batch, 10)`` logits."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def train_mnist_classifier(n_train: int = 20_000, epochs: int = 1, seed: int = 0, batch_size: int = 128,
                           n_test: int = 10_000, device: torch.device | str | None = None, results_root=None
                           ) -> tuple[nn.Module, float]:
    """Train (or load from the results cache) :func:`mnist_classifier_net` on the first ``n_train`` MNIST training
    images with Adam (lr 1e-3) for ``epochs``; return the network (CPU, eval mode) and its accuracy on the first
    ``n_test`` test images. A missing MNIST raises :class:`lsgan_lib.datasets.DatasetMissing`."""
    from .datasets import load_images

    if n_train < 1 or epochs < 1 or batch_size < 1 or n_test < 1:
        raise ValueError(f"train_mnist_classifier needs positive sizes, got n_train={n_train}, epochs={epochs}, "
                         f"batch_size={batch_size}, n_test={n_test}")
    device = torch.device(device) if device is not None else default_device()
    key = {"n_train": n_train, "epochs": epochs, "seed": seed, "batch_size": batch_size, "n_test": n_test,
           "net": "lenet_16_32_128", "optimizer": "adam_1e-3"}

    def fit() -> dict:
        images, labels = load_images("mnist", "train", n_train)
        test_images, test_labels = load_images("mnist", "test", n_test)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = mnist_classifier_net()
        net.to(device).train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        stream = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(len(images), generator=stream)
            for start in range(0, len(images), batch_size):
                idx = order[start:start + batch_size]
                loss = F.cross_entropy(net(images[idx].to(device)), labels[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        net.eval()
        accuracy = float((predict_classes(net, test_images) == test_labels).float().mean())
        return {"state": {k: v.cpu() for k, v in net.state_dict().items()}, "accuracy": accuracy}

    payload, _ = cache.cached(CLASSIFIER_KIND, key, fit, results_root)
    net = mnist_classifier_net()
    net.load_state_dict(payload["state"])
    return net.eval(), float(payload["accuracy"])


@torch.no_grad()
def predict_classes(classifier: nn.Module, images: torch.Tensor, chunk: int = 1000) -> torch.Tensor:
    """The predicted class ``(n,)`` of images ``(n, 1, 28, 28)`` in [−1, 1]."""
    device = next(classifier.parameters()).device
    return torch.cat([classifier(part.to(device)).argmax(dim=1).cpu() for part in images.split(chunk)])


# ---------------------------------------------------------------------------------------------------------------------
# Summaries over seeds
# ---------------------------------------------------------------------------------------------------------------------


def snapshot_schedule(n_iter: int, count: int) -> tuple[int, ...]:
    """``count + 1`` evenly spaced snapshot iterations from 0 to ``n_iter`` (both included, no repeats)."""
    if n_iter < 1 or count < 1:
        raise ValueError(f"snapshot_schedule needs n_iter >= 1 and count >= 1, got {n_iter} and {count}")
    return tuple(sorted({round(i * n_iter / count) for i in range(count + 1)}))


def mode_summary(samples: Sequence[torch.Tensor], centres: Sequence[Sequence[float]], std: float, min_per_mode: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`lsgan_lib.metrics.mode_statistics` over runs: ``(modes covered, high-quality share)``, each ``(runs,)``.

    A run's samples ``(n, 2)`` that hold non-finite values (a diverged generator) cover no mode and have no
    high-quality sample."""
    from .metrics import mode_statistics

    grid = torch.tensor(centres)
    modes, quality = [], []
    for s in samples:
        if not bool(torch.isfinite(s).all()):
            modes.append(0.0), quality.append(0.0)
            continue
        stats = mode_statistics(s, grid, std, min_per_mode=min_per_mode)
        modes.append(float(stats["modes_covered"])), quality.append(stats["high_quality"])
    return torch.tensor(modes), torch.tensor(quality)
