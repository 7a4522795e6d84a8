"""Measurements that turn the papers' visual statements into numbers."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn


def nearest_distance(points: torch.Tensor, reference: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Distance from each row of ``points`` ``(n, d)`` to its nearest row of ``reference`` ``(m, d)``: shape
    ``(n,)``."""
    if points.shape[1] != reference.shape[1]:
        raise ValueError(f"dimension mismatch: points {tuple(points.shape)} vs reference {tuple(reference.shape)}")
    if reference.shape[0] == 0:
        raise ValueError("nearest_distance needs at least one reference point")
    return torch.cat([torch.cdist(part, reference).min(dim=1).values for part in points.split(chunk)])


def support_distance(samples: torch.Tensor, data: torch.Tensor) -> float:
    """Mean distance of generated samples ``(n, d)`` to the data's support, represented by data points ``(m, d)``: the
    mean over samples of the distance to the nearest data point. ``inf`` when a sample is NaN or infinite (a diverged
    generator)."""
    if not bool(torch.isfinite(samples).all()):
        return float("inf")
    return float(nearest_distance(samples.double(), data.double()).mean())


def support_distance_ratio(trained: torch.Tensor, untrained: torch.Tensor, data: torch.Tensor) -> float:
    """How much closer to the data's support a generator's samples came by training: :func:`support_distance` of the
    trained samples ``(n, d)`` over that of the same generator's samples at initialisation ``(n', d)`` (both against
    data points ``(m, d)``). 1: no closer than untrained; a collapsed generator whose samples sit on one mode gives a
    ratio near 0 too (it learned *where* the data is, which is what a gate of training may certify). ``inf`` for
    non-finite trained samples; raises ``ValueError`` when the untrained samples already lie on the data (ratio
    undefined)."""
    reference = support_distance(untrained, data)
    if not reference > 0 or not math.isfinite(reference):
        raise ValueError(f"support_distance_ratio needs untrained samples off the data at a finite distance, got a "
                         f"mean distance of {reference}")
    return support_distance(trained, data) / reference


def coverage(data: torch.Tensor, generated: torch.Tensor, eps: float) -> float:
    """Share of data points ``(n, d)`` that have a generated sample ``(m, d)`` within distance ``eps``.

    1 means the generated samples reach every part of the data; a generator that misses a mode or a region loses the
    data mass there.
    """
    return float((nearest_distance(data, generated) <= eps).float().mean())


def precision(generated: torch.Tensor, distance_to_support: Callable[[torch.Tensor], torch.Tensor], eps: float
              ) -> float:
    """Share of generated samples ``(m, d)`` within ``eps`` of the data's support (the true manifold, not a sample).

    1 means every sample lies on (or next to) the data manifold; samples off it lower the score.
    """
    return float((distance_to_support(generated) <= eps).float().mean())


def chamfer_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Symmetric mean nearest-neighbour distance between point sets ``(n, d)`` and ``(m, d)``; 0 iff they coincide.

    Between two snapshots of the same generator (same latents) it measures how far the generated set still moves.
    """
    return float((nearest_distance(a, b).mean() + nearest_distance(b, a).mean()) / 2)


def line_coverage_gaussian(eps: float) -> float:
    """Coverage of a 2-d standard Gaussian by a straight line through its mean: P(|N(0, 1)| ≤ ε) = erf(ε/√2).

    The baseline a 1-d generated manifold would reach on the Gaussian plane without folding to cover it.
    """
    return float(torch.erf(torch.tensor(eps / 2 ** 0.5)))


def mode_statistics(generated: torch.Tensor, centres: torch.Tensor, std: float, radius_in_std: float = 3.0,
                    min_per_mode: int = 20) -> dict[str, float]:
    """The unrolled-GAN / VEEGAN mode metrics for a Gaussian mixture with equal isotropic ``std``.

    A generated sample ``(m, d)`` is *high quality* when it lies within ``radius_in_std``·σ of its nearest centre
    ``(k, d)``; a mode is *covered* when at least ``min_per_mode`` high-quality samples are nearest to it (VEEGAN's
    rule is 20 of 2,500 samples; scale ``min_per_mode`` with the sample count). Returns ``modes_covered`` (a count),
    ``high_quality`` (a share in [0, 1]) and ``per_mode`` (the high-quality count of each mode, a list).
    """
    if generated.ndim != 2 or centres.ndim != 2 or generated.shape[1] != centres.shape[1]:
        raise ValueError(f"mode_statistics needs (m, d) samples and (k, d) centres, got {tuple(generated.shape)} and "
                         f"{tuple(centres.shape)}")
    if std <= 0 or radius_in_std <= 0 or min_per_mode < 1:
        raise ValueError(f"mode_statistics needs std > 0, radius_in_std > 0, min_per_mode >= 1; got {std}, "
                         f"{radius_in_std}, {min_per_mode}")
    distances = torch.cdist(generated.float(), centres.float())
    nearest_distance_, nearest = distances.min(dim=1)
    good = nearest_distance_ <= radius_in_std * std
    per_mode = torch.bincount(nearest[good], minlength=centres.shape[0])
    return {"modes_covered": int((per_mode >= min_per_mode).sum()), "high_quality": float(good.float().mean()),
            "per_mode": per_mode.tolist()}


# ---------------------------------------------------------------------------------------------------------------------
# Wasserstein distances between samples (the manifold-alignment chapter). The JSD of curve distributions, exact and
# Gaussian-smoothed, lives with the curves in :mod:`lsgan_lib.measure.alignment` (``jsd_exact``, ``jsd_smoothed``).
# ---------------------------------------------------------------------------------------------------------------------


def optimal_assignment(a: torch.Tensor, b: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """The exact optimal transport plan between two equal-size uniform samples ``(m, d)`` for the cost ‖x − y‖^p: a
    permutation ``(m,)`` with ``a[i]`` sent to ``b[plan[i]]`` (``scipy.optimize.linear_sum_assignment``)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"exact OT by assignment needs two (m, d) samples of equal size, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if p < 1:
        raise ValueError(f"W_p needs p >= 1, got {p}")
    cost = torch.cdist(a.detach().double(), b.detach().double()).pow(p).cpu().numpy()
    rows, cols = linear_sum_assignment(cost)
    plan = np.empty_like(cols)
    plan[rows] = cols
    return torch.as_tensor(plan, device=a.device)


def wasserstein(a: torch.Tensor, b: torch.Tensor, p: float = 2.0, power: bool = False) -> torch.Tensor:
    """W_p between the uniform distributions on two equal-size samples ``(m, d)``, by exact optimal transport.

    Returns W_p (or W_p^p with ``power=True``) as a scalar tensor that carries the graph of ``a`` and ``b``: the plan
    is held fixed, so autograd gives the gradient of the OT cost (Prop. 4.1's primal form)."""
    plan = optimal_assignment(a, b, p)
    cost = (a - b[plan]).norm(dim=1).pow(p).mean()
    return cost if power else cost.pow(1.0 / p)


def wasserstein_1d(a: torch.Tensor, b: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """W_p between two equal-size 1-D samples ``(m,)`` in closed form: the sorted samples are matched (the monotone
    map of 1-D optimal transport)."""
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"wasserstein_1d needs two (m,) samples of equal size, got {tuple(a.shape)}, {tuple(b.shape)}")
    return (a.sort().values - b.sort().values).abs().pow(p).mean().pow(1.0 / p)


def w2_gaussians_1d(mean_a: float, std_a: float, mean_b: float, std_b: float) -> float:
    """W2 between N(mean_a, std_a²) and N(mean_b, std_b²): √((Δmean)² + (Δstd)²)."""
    return float(((mean_a - mean_b) ** 2 + (std_a - std_b) ** 2) ** 0.5)


def circle_statistics(generated: torch.Tensor, distance_to_support: Callable[[torch.Tensor], torch.Tensor],
                      angle: Callable[[torch.Tensor], torch.Tensor], eps: float, n_arcs: int = 12,
                      min_per_arc: int = 20) -> dict[str, float]:
    """Mode statistics for a circle (no modes): the circle is cut into ``n_arcs`` equal arcs; a generated sample
    ``(m, d)`` is *on the support* within ``eps`` of the circle, and an arc is *covered* when at least ``min_per_arc``
    on-support samples fall in it (``angle`` maps samples to their angle in [−π, π)). Returns ``modes_covered`` (arcs
    covered), ``high_quality`` (the on-support share) and ``per_mode``."""
    if n_arcs < 1 or min_per_arc < 1 or eps < 0:
        raise ValueError(f"circle_statistics needs n_arcs >= 1, min_per_arc >= 1, eps >= 0; got {n_arcs}, "
                         f"{min_per_arc}, {eps}")
    good = distance_to_support(generated) <= eps
    bins = ((angle(generated[good]) + torch.pi) / (2 * torch.pi) * n_arcs).long().clamp(0, n_arcs - 1)
    per_arc = torch.bincount(bins, minlength=n_arcs)
    return {"modes_covered": int((per_arc >= min_per_arc).sum()), "high_quality": float(good.float().mean()),
            "per_mode": per_arc.tolist()}


# ---------------------------------------------------------------------------------------------------------------------
# Fréchet distance with a pluggable feature network (FID when the feature network is Inception-v3's pool3 layer).
# ---------------------------------------------------------------------------------------------------------------------

INCEPTION_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"  # pytorch-fid's port of the TF FID Inception weights


def gaussian_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(k,)`` and covariance ``(k, k)`` (unbiased, float64) of features ``(n, k)``, n ≥ 2."""
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"gaussian_statistics needs features (n >= 2, k), got shape {tuple(features.shape)}")
    x = features.double()
    return x.mean(dim=0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets ``(n, k)`` and ``(m, k)``:
    ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) (Heusel et al.; the FID when the features are Inception-v3's)."""
    import numpy as np
    from scipy import linalg

    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"frechet_distance: feature sizes differ, {features_a.shape[1]} vs {features_b.shape[1]}")
    mu_a, cov_a = gaussian_statistics(features_a)
    mu_b, cov_b = gaussian_statistics(features_b)
    root = linalg.sqrtm(cov_a.numpy() @ cov_b.numpy())
    if not np.isfinite(root).all():  # singular product: the standard FID code's offset
        offset = np.eye(cov_a.shape[0]) * 1e-6
        root = linalg.sqrtm((cov_a.numpy() + offset) @ (cov_b.numpy() + offset))
    root = np.real(root)
    value = float((mu_a - mu_b).pow(2).sum()) + float(np.trace(cov_a.numpy() + cov_b.numpy() - 2 * root))
    return max(value, 0.0)


@torch.no_grad()
def network_features(network: torch.nn.Module, images: torch.Tensor, size: int | None = None, chunk: int = 256
                     ) -> torch.Tensor:
    """Features ``(n, k)`` of images ``(n, C, H, W)`` under ``network`` (eval mode, CPU), resized bilinearly to
    ``size``×``size`` first when ``size`` is given."""
    from torch.nn import functional as F

    network.eval()
    out = []
    for part in images.split(chunk):
        if size is not None and part.shape[-1] != size:
            part = F.interpolate(part.float(), size=(size, size), mode="bilinear", align_corners=False)
        out.append(network(part.float()).flatten(1))
    return torch.cat(out)


def standard_fid_network():
    """pytorch-fid's Inception-v3 (pool3, 2048 features) when the package *and* its weights are present locally, else
    ``None`` (nothing is downloaded). Its input is 299×299 images in [−1, 1] (it resizes itself)."""
    import importlib.util

    if importlib.util.find_spec("pytorch_fid") is None:
        return None
    from pathlib import Path

    weights = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS
    if not weights.is_file():
        return None
    from pytorch_fid.inception import InceptionV3  # noqa: PLC0415 (optional dependency)

    net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]], normalize_input=False)

    class _Pool3(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)[0].flatten(1)

    return _Pool3(net)


def train_classifier(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int,
                     batch_size: int = 128, lr: float = 1e-3, seed: int = 0) -> torch.nn.Module:
    """Train a classifier ``(batch, C, H, W) → (batch, n_classes)`` with Adam and cross-entropy on ``images``
    ``(n, C, H, W)`` and ``labels`` ``(n,)`` for ``steps`` minibatch steps (batches drawn from ``seed``); eval mode."""
    from torch.nn import functional as F

    if images.shape[0] != labels.shape[0] or images.shape[0] < 1 or steps < 1:
        raise ValueError(f"train_classifier needs as many labels as images (>= 1) and steps >= 1; got "
                         f"{images.shape[0]} images, {labels.shape[0]} labels, {steps} steps")
    stream = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    network.train()
    for _ in range(steps):
        index = torch.randint(images.shape[0], (min(batch_size, images.shape[0]),), generator=stream)
        loss = F.cross_entropy(network(images[index].float()), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return network.eval()


@torch.no_grad()
def accuracy(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, chunk: int = 1024) -> float:
    """Share of ``images`` ``(n, C, H, W)`` whose arg-max class is the label ``(n,)``."""
    network.eval()
    right = sum(int((network(x.float()).argmax(dim=1) == y).sum()) for x, y in zip(images.split(chunk),
                                                                                 labels.split(chunk)))
    return right / images.shape[0]


# ---------------------------------------------------------------------------------------------------------------------
# Blow-ups that stay finite
# ---------------------------------------------------------------------------------------------------------------------

BLOW_UP_MULTIPLE = 10.0  # samples farther than this many data radii from the data's centre: the run blew up


def escape_ratio(samples: torch.Tensor, data: torch.Tensor) -> float:
    """How far the farthest generated sample ``(m, d)`` lies from the data ``(n, d)``, in data radii: max over samples
    of ‖s − c‖ / R, where c is the data's mean and R = max ‖x − c‖ over the data (its radius). Samples inside the
    data's ball give ≤ 1; a generator that blew up (finite but huge samples, e.g. ~1e4 on 8 Gaussians of radius 2)
    gives thousands; NaN or infinite samples give ``inf``."""
    if samples.shape[-1] != data.shape[-1]:
        raise ValueError(f"dimension mismatch: samples {tuple(samples.shape)} vs data {tuple(data.shape)}")
    samples, data = samples.reshape(-1, samples.shape[-1]).double(), data.reshape(-1, data.shape[-1]).double()
    if not torch.isfinite(samples).all():
        return float("inf")
    centre = data.mean(0)
    radius = float((data - centre).norm(dim=1).max())
    if radius <= 0:
        raise ValueError("escape_ratio needs data with a positive radius (not all points equal)")
    return float((samples - centre).norm(dim=1).max()) / radius


def blow_up_gate(samples_per_seed, data: torch.Tensor, multiple: float = BLOW_UP_MULTIPLE, what: str = "the GAN"):
    """A training gate (:func:`lsgan_lib.measure.claims.gate`) that fails when a run's samples blew up while staying
    finite.

    ``samples_per_seed`` is a sequence of generated samples ``(m, d)``, one per seed; ``data`` ``(n, d)`` the data
    they should match. Each seed's :func:`escape_ratio` must be ≤ ``multiple`` (the gate keeps the worst seed).
    Every seed beyond it is also reported with a ``RuntimeWarning`` naming the seed (by position) and its ratio, so
    the chapter shows the blow-up where it happened, and a claim gated on this reads *not tested*."""
    import warnings

    from .claims import gate

    ratios = [escape_ratio(s, data) for s in samples_per_seed]
    for position, ratio in enumerate(ratios):
        if not ratio <= multiple:
            state = "NaN or infinite samples" if ratio == float("inf") else f"samples up to {ratio:.3g} data radii away"
            warnings.warn(f"{what} blew up in seed #{position}: {state} (limit {multiple:g}); claims that need this "
                          "run read not tested", RuntimeWarning, stacklevel=2)
    return gate(f"{what}: samples stay near the data",
                "farthest sample from the data's centre, in data radii, per seed", ratios, multiple, "<=",
                independence="the generator's samples did not run off to a multiple of the data's radius; a collapsed "
                             "or oscillating generator stays within it too, so no claim's outcome is presupposed")


# ---------------------------------------------------------------------------------------------------------------------
# The quantiser floor: the best a latent of k points can do on the data (the floor of "learned" gates where the latent
# cannot represent the data exactly).
# ---------------------------------------------------------------------------------------------------------------------


def lloyd_quantiser(sample: torch.Tensor, k: int, iterations: int = 300, tol: float = 1e-10, seed: int = 0
                    ) -> tuple[torch.Tensor, float]:
    """Lloyd's algorithm on an empirical sample ``(n, d)``: ``k`` points ``(k, d)`` that (locally) minimise the mean
    squared distance from the sample to its nearest point, and that mean squared error. Started from k-means++
    (seeded by ``seed``, so the same sample gives the same quantiser); stops when the error improves by less than
    ``tol`` or after ``iterations``. An empty cell keeps its point."""
    if sample.ndim != 2 or k < 1 or sample.shape[0] < k:
        raise ValueError(f"lloyd_quantiser needs a sample (n, d) with n >= k >= 1, got {tuple(sample.shape)} and k={k}")
    x = sample.double()
    stream = torch.Generator().manual_seed(seed)
    points = x[torch.randint(len(x), (1,), generator=stream)]
    while len(points) < k:  # k-means++: each new point drawn with probability ∝ squared distance to the chosen ones
        d2 = torch.cdist(x, points).min(dim=1).values.pow(2)
        points = torch.cat([points, x[torch.multinomial(d2 / d2.sum(), 1, generator=stream)]])
    error = math.inf
    for _ in range(iterations):
        d2, cell = torch.cdist(x, points).pow(2).min(dim=1)
        new_error = float(d2.mean())
        sums = torch.zeros_like(points).index_add_(0, cell, x)
        counts = torch.bincount(cell, minlength=k).double()
        filled = counts > 0
        points[filled] = sums[filled] / counts[filled, None]
        if error - new_error < tol:
            error = new_error
            break
        error = new_error
    error = float(torch.cdist(x, points).pow(2).min(dim=1).values.mean())
    return points, error


def gaussian_quantiser(k: int, dim: int, n: int = 200_000, seed: int = 0) -> tuple[torch.Tensor, float]:
    """Lloyd's ``k``-point quantiser of N(0, I_dim): :func:`lloyd_quantiser` on a sample of ``n`` points — in one
    dimension the ``n`` quantiles Φ⁻¹((i + ½)/n) (so the error is the integral's, to ~1/n), else draws seeded by
    ``seed``. Returns the points ``(k, dim)`` and the mean squared error (the total over the ``dim`` coordinates)."""
    if dim < 1 or n < k:
        raise ValueError(f"gaussian_quantiser needs dim >= 1 and n >= k, got dim={dim}, n={n}, k={k}")
    if dim == 1:
        u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        sample = (torch.special.ndtri(u))[:, None]
    else:
        sample = torch.randn((n, dim), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return lloyd_quantiser(sample, k, seed=seed)


# ---------------------------------------------------------------------------------------------------------------------
# The generator as a map (Jacobians, orientation), the critic as a detector (anomaly curves, separation AUC), and the
# shape of a weight distribution.
# ---------------------------------------------------------------------------------------------------------------------


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


def excess_kurtosis(values: torch.Tensor) -> float:
    """E[(x − μ)⁴]/σ⁴ − 3 of a flat tensor: 0 for a Gaussian, −1.2 for a uniform (Glorot's initialisation)."""
    x = values.double().flatten()
    centred = x - x.mean()
    return float(centred.pow(4).mean() / centred.pow(2).mean().pow(2) - 3)
