"""Analytic tools of the manifold-alignment chapter (Lui et al., *Implicit Manifold Learning on GANs*).

Distributions supported on curves in R^n: unions of :class:`Segment` and :class:`Arc` pieces (a circle is a full arc),
each piece carrying a probability mass spread uniformly along its length (a density with respect to arc length, the
one-dimensional Hausdorff measure H¹ that the paper writes L^k). For these families the chapter's quantities are exact:

* :func:`common_support_measure` — L¹(supp P ∩ supp Q), the length on which two supports *positively align*;
* :func:`jsd_exact` — the Jensen-Shannon divergence, which depends only on the densities on the common part;
* quantisations (:meth:`CurveDistribution.quadrature`, :meth:`CurveDistribution.equal_weight_points`) for exact
  optimal transport between finite samples (:func:`lsgan_lib.measure.metrics.wasserstein`) and for the
  Gaussian-smoothed JSD;
* translations and rotations of a support (isometries, so lengths and densities are kept);
* 1-D optimal transport maps from quantile functions (:func:`monotone_transport_map`) and the gradient weights of
  the paper's Propositions 4.1 and 4.2.

Pieces of one distribution must not overlap each other (they may touch at points); the constructor checks this.
Shapes: points are ``(m, n)`` with ``n`` the ambient dimension.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

TOL = 1e-9  # geometric tolerance for "lies on the same line / circle"
LOG2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------------------------------
# Pieces: segments and arcs in R^n
# ---------------------------------------------------------------------------------------------------------------------


def _vector(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size < 2 or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a finite point of dimension >= 2, got {values!r}")
    return array


@dataclass(frozen=True)
class Segment:
    """The straight segment from ``start`` to ``end`` (points of R^n); arc-length parameter s ∈ [0, length]."""

    start: tuple[float, ...]
    end: tuple[float, ...]

    def __post_init__(self):
        a, b = _vector(self.start, "Segment.start"), _vector(self.end, "Segment.end")
        if a.shape != b.shape:
            raise ValueError(f"Segment endpoints differ in dimension: {a.shape[0]} vs {b.shape[0]}")
        if np.linalg.norm(b - a) <= TOL:
            raise ValueError(f"Segment needs two distinct endpoints, got {self.start} and {self.end}")
        object.__setattr__(self, "start", tuple(a.tolist()))
        object.__setattr__(self, "end", tuple(b.tolist()))

    @property
    def dim(self) -> int:
        return len(self.start)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(np.subtract(self.end, self.start)))

    def points(self, s: np.ndarray) -> np.ndarray:
        """Points at arc lengths ``s`` ``(m,)`` → ``(m, n)``."""
        a, b = np.asarray(self.start), np.asarray(self.end)
        return a + np.asarray(s)[:, None] / self.length * (b - a)

    def transformed(self, matrix: np.ndarray, shift: np.ndarray) -> Segment:
        """The image under x ↦ matrix·x + shift (``matrix`` orthogonal ``(n, n)``, ``shift`` ``(n,)``)."""
        return Segment(tuple(matrix @ np.asarray(self.start) + shift), tuple(matrix @ np.asarray(self.end) + shift))


@dataclass(frozen=True)
class Arc:
    """The arc centre + radius·(cos φ·u + sin φ·v), φ ∈ [angle0, angle0 + sweep], in the plane spanned by the
    orthonormal ``u``, ``v`` (default: the first two coordinate axes). ``sweep = 2π`` is a full circle."""

    centre: tuple[float, ...]
    radius: float
    angle0: float
    sweep: float
    u: tuple[float, ...] | None = None
    v: tuple[float, ...] | None = None

    def __post_init__(self):
        c = _vector(self.centre, "Arc.centre")
        n = c.shape[0]
        u = np.eye(n)[0] if self.u is None else _vector(self.u, "Arc.u")
        v = np.eye(n)[1] if self.v is None else _vector(self.v, "Arc.v")
        if u.shape != c.shape or v.shape != c.shape:
            raise ValueError("Arc.u and Arc.v must have the centre's dimension")
        if abs(u @ u - 1) > 1e-9 or abs(v @ v - 1) > 1e-9 or abs(u @ v) > 1e-9:
            raise ValueError(f"Arc.u and Arc.v must be orthonormal, got u={u.tolist()}, v={v.tolist()}")
        if not (self.radius > 0 and 0 < self.sweep <= 2 * math.pi + 1e-12):
            raise ValueError(f"Arc needs radius > 0 and 0 < sweep <= 2π, got radius={self.radius}, sweep={self.sweep}")
        object.__setattr__(self, "centre", tuple(c.tolist()))
        object.__setattr__(self, "u", tuple(u.tolist()))
        object.__setattr__(self, "v", tuple(v.tolist()))
        object.__setattr__(self, "sweep", min(float(self.sweep), 2 * math.pi))

    @property
    def dim(self) -> int:
        return len(self.centre)

    @property
    def length(self) -> float:
        return float(self.radius * self.sweep)

    def points(self, s: np.ndarray) -> np.ndarray:
        """Points at arc lengths ``s`` ``(m,)`` → ``(m, n)``."""
        phi = self.angle0 + np.asarray(s) / self.radius
        return (np.asarray(self.centre) + self.radius * (np.cos(phi)[:, None] * np.asarray(self.u)
                                                        + np.sin(phi)[:, None] * np.asarray(self.v)))

    def transformed(self, matrix: np.ndarray, shift: np.ndarray) -> Arc:
        """The image under x ↦ matrix·x + shift (``matrix`` orthogonal ``(n, n)``, ``shift`` ``(n,)``)."""
        return Arc(tuple(matrix @ np.asarray(self.centre) + shift), self.radius, self.angle0, self.sweep,
                   tuple(matrix @ np.asarray(self.u)), tuple(matrix @ np.asarray(self.v)))


def circle(centre: Sequence[float], radius: float) -> Arc:
    """A full circle in the plane of the first two coordinates."""
    return Arc(tuple(centre), radius, 0.0, 2 * math.pi)


Piece = Segment | Arc


def _segment_overlap(a: Segment, b: Segment) -> float:
    """Length of a ∩ b: positive only when both lie on one line (then the overlap of their projections)."""
    p0, p1 = np.asarray(a.start), np.asarray(a.end)
    direction = (p1 - p0) / a.length
    scale = max(1.0, a.length, b.length)
    for q in (np.asarray(b.start), np.asarray(b.end)):
        offset = q - p0
        if np.linalg.norm(offset - (offset @ direction) * direction) > TOL * scale:
            return 0.0
    t0, t1 = sorted(((np.asarray(b.start) - p0) @ direction, (np.asarray(b.end) - p0) @ direction))
    return float(max(0.0, min(a.length, t1) - max(0.0, t0)))


def _arc_overlap(a: Arc, b: Arc) -> float:
    """Length of a ∩ b: positive only when both lie on one circle (same centre, radius and plane)."""
    scale = max(1.0, a.radius)
    if abs(a.radius - b.radius) > TOL * scale or np.linalg.norm(np.subtract(a.centre, b.centre)) > TOL * scale:
        return 0.0
    u, v = np.asarray(a.u), np.asarray(a.v)
    basis = np.stack([u, v])
    for w in (np.asarray(b.u), np.asarray(b.v)):
        if np.linalg.norm(w - basis.T @ (basis @ w)) > 1e-9:
            return 0.0  # another plane: two circles of different planes meet in at most two points

    def angle(point):  # b's points in a's frame
        d = point - np.asarray(a.centre)
        return math.atan2(d @ v, d @ u)

    s = np.array([0.0, b.length / 2, b.length])
    ends = [angle(p) for p in b.points(s)]
    # b runs counter-clockwise in a's frame iff its midpoint lies at +sweep/2 from its start.
    ccw = abs(((ends[1] - ends[0]) % (2 * math.pi)) - (b.sweep / 2) % (2 * math.pi)) < 1e-6 or b.sweep >= 2 * math.pi
    start_b = ends[0] if ccw else ends[2]
    offset = (start_b - a.angle0) % (2 * math.pi)
    total = 0.0
    for k in (-1, 0):
        lo, hi = offset + 2 * math.pi * k, offset + 2 * math.pi * k + b.sweep
        total += max(0.0, min(a.sweep, hi) - max(0.0, lo))
    return float(a.radius * min(total, a.sweep, b.sweep))


def piece_overlap(a: Piece, b: Piece) -> float:
    """L¹(a ∩ b) for two pieces: the length they share (0 for a segment and an arc, which meet in ≤ 2 points)."""
    if a.dim != b.dim:
        raise ValueError(f"pieces live in different dimensions: {a.dim} vs {b.dim}")
    if isinstance(a, Segment) and isinstance(b, Segment):
        return _segment_overlap(a, b)
    if isinstance(a, Arc) and isinstance(b, Arc):
        return _arc_overlap(a, b)
    return 0.0


# ---------------------------------------------------------------------------------------------------------------------
# Distributions on unions of pieces
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurveDistribution:
    """A probability distribution on a union of pieces: piece i carries mass ``masses[i]``, uniformly along its length
    (density masses[i] / length_i with respect to arc length). ``masses=None`` spreads the mass uniformly over the
    whole union (proportional to length)."""

    pieces: tuple[Piece, ...]
    masses: tuple[float, ...] | None = None
    label: str = ""

    def __post_init__(self):
        pieces = tuple(self.pieces)
        if not pieces:
            raise ValueError("CurveDistribution needs at least one piece")
        if len({p.dim for p in pieces}) != 1:
            raise ValueError(f"all pieces must share one ambient dimension, got {[p.dim for p in pieces]}")
        lengths = np.array([p.length for p in pieces])
        masses = lengths / lengths.sum() if self.masses is None else np.asarray(self.masses, dtype=np.float64)
        if masses.shape != lengths.shape or np.any(masses < 0) or abs(masses.sum() - 1) > 1e-9:
            raise ValueError(f"masses must be one non-negative number per piece summing to 1, got {self.masses}")
        for i in range(len(pieces)):
            for j in range(i + 1, len(pieces)):
                if piece_overlap(pieces[i], pieces[j]) > 1e-9:
                    raise ValueError(f"pieces {i} and {j} of one distribution overlap on a positive length; split "
                                     f"them into non-overlapping pieces")
        object.__setattr__(self, "pieces", pieces)
        object.__setattr__(self, "masses", tuple(masses.tolist()))

    @property
    def dim(self) -> int:
        return self.pieces[0].dim

    @property
    def length(self) -> float:
        """L¹(supp): the total length of the pieces that carry mass."""
        return float(sum(p.length for p, m in zip(self.pieces, self.masses) if m > 0))

    @property
    def densities(self) -> tuple[float, ...]:
        """Density of each piece with respect to arc length."""
        return tuple(m / p.length for p, m in zip(self.pieces, self.masses))

    def quadrature(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Midpoint quadrature: about ``m`` points ``(m', n)`` spread over the pieces by length (at least 4 per
        piece), equally spaced in arc length, with weights ``(m',)`` summing to 1 (a piece's mass split equally)."""
        lengths = np.array([p.length for p in self.pieces])
        counts = np.maximum(4, np.round(m * lengths / lengths.sum()).astype(int))
        points, weights = [], []
        for piece, mass, count in zip(self.pieces, self.masses, counts):
            if mass == 0:
                continue
            s = (np.arange(count) + 0.5) * piece.length / count
            points.append(piece.points(s)), weights.append(np.full(count, mass / count))
        return np.concatenate(points), np.concatenate(weights)

    def equal_weight_points(self, m: int) -> np.ndarray:
        """Exactly ``m`` equal-weight points ``(m, n)``: each piece gets its mass's share of the points (largest
        remainders), equally spaced in arc length — a deterministic uniform sample for exact OT by assignment."""
        if m < 1:
            raise ValueError(f"equal_weight_points needs m >= 1, got {m}")
        masses = np.asarray(self.masses)
        raw = masses * m
        counts = np.floor(raw).astype(int)
        for i in np.argsort(-(raw - counts))[: m - counts.sum()]:
            counts[i] += 1
        points = [piece.points((np.arange(c) + 0.5) * piece.length / c) for piece, c in zip(self.pieces, counts) if c]
        return np.concatenate(points)

    def sample(self, m: int, generator: torch.Generator) -> torch.Tensor:
        """``m`` random samples ``(m, n)`` (float64)."""
        piece = torch.multinomial(torch.tensor(self.masses, dtype=torch.float64), m, replacement=True,
                                  generator=generator).numpy()
        u = torch.rand(m, generator=generator, dtype=torch.float64).numpy()
        out = np.empty((m, self.dim))
        for i, p in enumerate(self.pieces):
            rows = piece == i
            if rows.any():
                out[rows] = p.points(u[rows] * p.length)
        return torch.from_numpy(out)

    def transformed(self, matrix: np.ndarray, shift: Sequence[float] | np.ndarray) -> CurveDistribution:
        """The push-forward under the isometry x ↦ matrix·x + shift (densities along the pieces are kept)."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (self.dim, self.dim) or not np.allclose(matrix @ matrix.T, np.eye(self.dim), atol=1e-9):
            raise ValueError(f"transformed needs an orthogonal ({self.dim}, {self.dim}) matrix")
        shift = np.asarray(shift, dtype=np.float64).reshape(self.dim)
        return CurveDistribution(tuple(p.transformed(matrix, shift) for p in self.pieces), self.masses, self.label)

    def translated(self, shift: Sequence[float]) -> CurveDistribution:
        """The support translated by ``shift`` ``(n,)``."""
        return self.transformed(np.eye(self.dim), shift)

    def rotated(self, angle: float, about: Sequence[float] | None = None) -> CurveDistribution:
        """The support rotated by ``angle`` (radians) in the plane of the first two coordinates, about ``about``."""
        rotation = np.eye(self.dim)
        c, s = math.cos(angle), math.sin(angle)
        rotation[:2, :2] = [[c, -s], [s, c]]
        about = np.zeros(self.dim) if about is None else np.asarray(about, dtype=np.float64)
        return self.transformed(rotation, about - rotation @ about)


def union(*distributions: CurveDistribution, weights: Sequence[float] | None = None, label: str = ""
          ) -> CurveDistribution:
    """The mixture of ``distributions`` with ``weights`` (default: proportional to their lengths, i.e. uniform
    along the union). Their pieces must not overlap."""
    if weights is None:
        weights = [d.length for d in distributions]
    total = float(sum(weights))
    pieces, masses = [], []
    for d, w in zip(distributions, weights):
        pieces.extend(d.pieces), masses.extend(w / total * m for m in d.masses)
    return CurveDistribution(tuple(pieces), tuple(masses), label)


def uniform_on(*pieces: Piece, label: str = "") -> CurveDistribution:
    """The uniform distribution (by arc length) on the union of ``pieces``."""
    return CurveDistribution(tuple(pieces), None, label)


# ---------------------------------------------------------------------------------------------------------------------
# Exact quantities
# ---------------------------------------------------------------------------------------------------------------------


def overlaps(p: CurveDistribution, q: CurveDistribution) -> np.ndarray:
    """The matrix ``(pieces of p, pieces of q)`` of shared lengths L¹(p_i ∩ q_j)."""
    if p.dim != q.dim:
        raise ValueError(f"distributions live in different dimensions: {p.dim} vs {q.dim}")
    return np.array([[piece_overlap(a, b) for b in q.pieces] for a in p.pieces])


def common_support_measure(p: CurveDistribution, q: CurveDistribution) -> float:
    """L¹(supp P ∩ supp Q): the length on which the supports positively align (0 when they only cross or touch)."""
    shared = overlaps(p, q)
    carry = np.outer(np.asarray(p.masses) > 0, np.asarray(q.masses) > 0)
    return float((shared * carry).sum())


def jsd_exact(p: CurveDistribution, q: CurveDistribution) -> float:
    """The Jensen-Shannon divergence (natural log) of two curve distributions, exactly.

    Off the common support each distribution's mass contributes log 2 (JSD is "maxed out" there); on a shared length
    ℓ with densities a, b it contributes ½ℓ[a log(2a/(a+b)) + b log(2b/(a+b))]. Hence
    JSD = log 2 + ½ Σ ℓ [a log(a/(a+b)) + b log(b/(a+b))] ∈ [0, log 2], and JSD = log 2 iff the common support has
    measure 0."""
    shared = overlaps(p, q)
    total = LOG2
    for i, a in enumerate(p.densities):
        for j, b in enumerate(q.densities):
            length = shared[i, j]
            if length > 0 and a + b > 0:
                terms = (a * math.log(a / (a + b)) if a > 0 else 0.0) + (b * math.log(b / (a + b)) if b > 0 else 0.0)
                total += 0.5 * length * terms
    return float(min(max(total, 0.0), LOG2))


def smoothed_densities(points: torch.Tensor, centres: torch.Tensor, weights: torch.Tensor, sigma: float,
                       chunk: int = 2048) -> torch.Tensor:
    """The density at ``points`` ``(m, n)`` of the quadrature measure Σ_j w_j δ_{c_j} (``centres`` ``(k, n)``,
    ``weights`` ``(k,)``) convolved with N(0, σ² I_n): shape ``(m,)``."""
    n = points.shape[1]
    log_norm = -0.5 * n * math.log(2 * math.pi * sigma ** 2)
    out = []
    for part in points.split(chunk):
        d2 = torch.cdist(part, centres) ** 2
        out.append(torch.logsumexp(log_norm - d2 / (2 * sigma ** 2) + weights.log()[None, :], dim=1))
    return torch.cat(out)  # log densities


def jsd_smoothed(p: CurveDistribution, q: CurveDistribution, sigma: float, n_samples: int = 4000,
                 n_quadrature: int | None = None, seed: int = 0) -> float:
    """Monte-Carlo estimate of JSD(P * N_σ, Q * N_σ), both distributions convolved with an n-dimensional Gaussian of
    width σ (Arjovsky & Bottou's noise; the paper's footnote 4). As σ → 0 it tends to :func:`jsd_exact`.

    The convolutions are evaluated from a midpoint quadrature of each curve whose spacing is kept below σ/4
    (``n_quadrature`` points, by default enough for that), and the expectations from ``n_samples`` samples of each
    smoothed distribution."""
    if sigma <= 0 or n_samples < 1:
        raise ValueError(f"jsd_smoothed needs sigma > 0 and n_samples >= 1, got {sigma}, {n_samples}")
    generator = torch.Generator().manual_seed(seed)
    quad = {}
    for name, d in (("p", p), ("q", q)):
        count = n_quadrature or int(min(200_000, max(200, 4 * d.length / sigma)))
        points, weights = d.quadrature(count)
        quad[name] = (torch.from_numpy(points), torch.from_numpy(weights))
    total = 0.0
    for d in (p, q):
        x = d.sample(n_samples, generator)
        x = x + sigma * torch.randn(x.shape, generator=generator, dtype=torch.float64)
        log_p = smoothed_densities(x, *quad["p"], sigma)
        log_q = smoothed_densities(x, *quad["q"], sigma)
        log_own = log_p if d is p else log_q
        log_mix = torch.logaddexp(log_p, log_q) - LOG2
        total += 0.5 * float((log_own - log_mix).mean())
    return total


# ---------------------------------------------------------------------------------------------------------------------
# Minimal common support over a parametric family (Definition 3.2)
# ---------------------------------------------------------------------------------------------------------------------


def jsd_uniform_sub_interval(fraction: float) -> float:
    """JSD between P = U[0, 1] and Q = U[0, ℓ], ℓ = ``fraction`` ∈ (0, 1], in closed form:
    log 2 + ½[ℓ log(ℓ/(1+ℓ)) + log(1/(1+ℓ))]. It is 0 at ℓ = 1 and tends to log 2 as ℓ → 0."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    ell = fraction
    return LOG2 + 0.5 * (ell * math.log(ell / (1 + ell)) + math.log(1 / (1 + ell)))


def minimal_common_support(jsd_values: Sequence[float], common_measures: Sequence[float],
                           alphas: Sequence[float]) -> np.ndarray:
    """MCS^α over a finite family: for each α, the least common-support measure among members with JSD ≤ α
    (``inf`` over Ω^α, Definition 3.2); NaN where no member reaches JSD ≤ α. Shape ``(len(alphas),)``."""
    jsd_values, common_measures = np.asarray(jsd_values), np.asarray(common_measures)
    out = np.full(len(alphas), np.nan)
    for k, alpha in enumerate(alphas):
        inside = jsd_values <= alpha + 1e-12
        if inside.any():
            out[k] = common_measures[inside].min()
    return out


# ---------------------------------------------------------------------------------------------------------------------
# One-dimensional optimal transport and the gradient formulas of Propositions 4.1 and 4.2
# ---------------------------------------------------------------------------------------------------------------------


def gaussian_mixture_cdf(x: torch.Tensor, means: Sequence[float], stds: Sequence[float], weights: Sequence[float]
                         ) -> torch.Tensor:
    """CDF of a 1-D Gaussian mixture at ``x`` (any shape, float64)."""
    x = x[..., None]
    m, s, w = (torch.tensor(v, dtype=torch.float64) for v in (means, stds, weights))
    return (w * torch.special.ndtr((x - m) / s)).sum(-1)


def gaussian_mixture_pdf(x: torch.Tensor, means: Sequence[float], stds: Sequence[float], weights: Sequence[float]
                         ) -> torch.Tensor:
    """Density of a 1-D Gaussian mixture at ``x`` (any shape, float64)."""
    x = x[..., None]
    m, s, w = (torch.tensor(v, dtype=torch.float64) for v in (means, stds, weights))
    return (w * torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))).sum(-1)


def invert_cdf(cdf: Callable[[torch.Tensor], torch.Tensor], u: torch.Tensor, low: float, high: float,
               iterations: int = 100) -> torch.Tensor:
    """The quantile function F⁻¹(u) of an increasing ``cdf`` by bisection on ``[low, high]`` (float64, shape of u)."""
    lo = torch.full_like(u, low, dtype=torch.float64)
    hi = torch.full_like(u, high, dtype=torch.float64)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        below = cdf(mid) < u
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return (lo + hi) / 2


def monotone_transport_map(x: torch.Tensor, cdf_source: Callable[[torch.Tensor], torch.Tensor],
                           quantile_target: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The 1-D optimal transport map T(x) = F_Q⁻¹(F_P(x)) from P to Q (optimal for every convex cost |x − y|^p,
    p ≥ 1): shape of ``x``."""
    return quantile_target(cdf_source(x))


def w_p_1d_quantiles(quantile_p: torch.Tensor, quantile_q: torch.Tensor, p: float) -> torch.Tensor:
    """W_p^p between two 1-D distributions from their quantile functions evaluated at the same midpoint grid
    u_k = (k + ½)/K: (1/K) Σ |F_P⁻¹(u_k) − F_Q⁻¹(u_k)|^p (differentiable). Shapes ``(K,)`` → scalar."""
    return (quantile_p - quantile_q).abs().pow(p).mean()


def eq5_weight(p_r: torch.Tensor, q_theta: torch.Tensor) -> torch.Tensor:
    """|1 + log(q_m / p_r)|, the weight of Eq. (5) (the −log D generator), with q_m = (p_r + q_θ)/2."""
    return (1 + torch.log((p_r + q_theta) / (2 * p_r))).abs()


def eq6_weight(p_r: torch.Tensor, q_theta: torch.Tensor) -> torch.Tensor:
    """|log(q_θ / q_m)|, the weight of Eq. (6) (the minimax / JSD generator), with q_m = (p_r + q_θ)/2."""
    return torch.log(2 * q_theta / (p_r + q_theta)).abs()


# ---------------------------------------------------------------------------------------------------------------------
# Figure 1 and the families of Theorems 3.1 / 3.2
# ---------------------------------------------------------------------------------------------------------------------


def upper_semicircle(left: float, right: float) -> Arc:
    """The upper half circle over the interval [left, right] of the x axis (from (right, 0) to (left, 0))."""
    return Arc(((left + right) / 2, 0.0), (right - left) / 2, 0.0, math.pi)


def zigzag(x0: float, x1: float, teeth: int, height: float) -> tuple[Segment, ...]:
    """A polyline from x0 to x1 whose vertices alternate between y = +height and y = −height: ``teeth`` segments,
    each crossing the x axis transversally once."""
    if teeth < 1 or height <= 0:
        raise ValueError(f"zigzag needs teeth >= 1 and height > 0, got {teeth}, {height}")
    xs = np.linspace(x0, x1, teeth + 1)
    ys = height * (-1.0) ** np.arange(teeth + 1)
    return tuple(Segment((xs[k], ys[k]), (xs[k + 1], ys[k + 1])) for k in range(teeth))


def figure1_pairs(half_width: float = 3.0, zigzag_teeth: int = 40, zigzag_height: float = 0.005
                  ) -> dict[str, tuple[CurveDistribution, CurveDistribution]]:
    """The three situations of the paper's Figure 1, each a pair (P, Q) of uniform distributions on curves in R²,
    with P uniform on the segment [−w, w] × {0}:

    * ``perfectly aligned`` — Q on three circles of radius ½ tangent to P's segment at x = −2, 0, 2 (three points
      where the supports meet without crossing transversally);
    * ``positively aligned`` — Q runs along P's segment on three regions ([−3, −2], [−1, 1], [2, 3]) and leaves it
      through two half circles in between;
    * ``transversal`` — Q is a zigzag of height ``zigzag_height`` around P's segment, crossing it
      ``zigzag_teeth`` times."""
    w = half_width
    p = uniform_on(Segment((-w, 0.0), (w, 0.0)), label="P: segment")
    tangent = uniform_on(*(circle((x, 0.5), 0.5) for x in (-2.0, 0.0, 2.0)), label="Q: three tangent circles")
    positive = uniform_on(Segment((-w, 0.0), (-2.0, 0.0)), upper_semicircle(-2.0, -1.0),
                          Segment((-1.0, 0.0), (1.0, 0.0)), upper_semicircle(1.0, 2.0), Segment((2.0, 0.0), (w, 0.0)),
                          label="Q: on P in three regions")
    transversal = uniform_on(*zigzag(-w, w, zigzag_teeth, zigzag_height), label="Q: zigzag across P")
    return {"perfectly aligned": (p, tangent), "positively aligned": (p, positive), "transversal": (p, transversal)}


def alignment_numbers(p: CurveDistribution, q: CurveDistribution, n_points: int = 1000) -> dict[str, float]:
    """Exact JSD and common-support measure, and W1, W2 by exact optimal transport between ``n_points``
    equal-weight quantisations of P and Q (see :meth:`CurveDistribution.equal_weight_points`)."""
    from .metrics import wasserstein

    a = torch.from_numpy(p.equal_weight_points(n_points))
    b = torch.from_numpy(q.equal_weight_points(n_points))
    return {"jsd": jsd_exact(p, q), "common": common_support_measure(p, q),
            "w1": float(wasserstein(a, b, 1.0)), "w2": float(wasserstein(a, b, 2.0))}


def along_family(p: CurveDistribution, family: Callable[[float], CurveDistribution], ts: Sequence[float],
                 n_points: int = 600) -> dict[str, np.ndarray]:
    """:func:`alignment_numbers` of (P, Q_t) for each t in ``ts``: arrays ``(len(ts),)`` keyed ``t``, ``jsd``,
    ``common``, ``w1``, ``w2``."""
    rows = [alignment_numbers(p, family(float(t)), n_points) for t in ts]
    out = {key: np.array([r[key] for r in rows]) for key in ("jsd", "common", "w1", "w2")}
    out["t"] = np.asarray(ts, dtype=np.float64)
    return out


def sub_interval_family(fractions: Sequence[float], escape_weights: Sequence[float]
                        ) -> tuple[CurveDistribution, list[dict[str, float]]]:
    """A parametric family for MCS^α (Definition 3.2): P uniform on [0, 1] × {0}; Q_{ℓ,w} puts mass 1 − w uniformly on
    [0, ℓ] × {0} (inside P's support) and mass w on the segment [0, 1] × {1} (off it). Returns P and, per member,
    ``fraction`` ℓ, ``escape`` w, the exact ``jsd`` and the ``common`` support measure (ℓ when 1 − w > 0)."""
    p = uniform_on(Segment((0.0, 0.0), (1.0, 0.0)), label="P: U[0, 1]")
    members = []
    for ell in fractions:
        for w in escape_weights:
            q = CurveDistribution((Segment((0.0, 0.0), (float(ell), 0.0)), Segment((0.0, 1.0), (1.0, 1.0))),
                                  (1.0 - float(w), float(w)))
            members.append({"fraction": float(ell), "escape": float(w), "jsd": jsd_exact(p, q),
                            "common": common_support_measure(p, q)})
    return p, members


# ---------------------------------------------------------------------------------------------------------------------
# Proposition 4.1 on 1-D distributions: autograd of the exact W2² and W1 against Eqs. (3)–(4)
# ---------------------------------------------------------------------------------------------------------------------

REAL_MIXTURE = {"means": (-2.0, 1.5), "stds": (0.5, 0.8), "weights": (0.4, 0.6)}  # P_r of the gradient checks


def cubic_generator(theta: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """g_θ(z) = θ₀ + θ₁ z + θ₂ z³ (increasing in z when θ₁ > 0, θ₂ ≥ 0); ``theta`` ``(3,)``, z any shape."""
    return theta[0] + theta[1] * z + theta[2] * z ** 3


def prop41_gradients(theta: Sequence[float], mixture: dict = REAL_MIXTURE, n_latent: int = 40_001,
                     n_grid: int = 200_000, span: float = 12.0, latent_span: float = 9.0) -> dict[str, np.ndarray]:
    """∇_θ W2²(P_r, Q_θ) and ∇_θ W1(P_r, Q_θ) two ways, for P_r a 1-D Gaussian mixture and Q_θ the law of
    g_θ(z) = θ₀ + θ₁z + θ₂z³, z ~ N(0, 1):

    * ``autograd_w2``, ``autograd_w1`` — autograd of the exact distances written with quantile functions,
      W_p^p = ∫₀¹ |F_P⁻¹(u) − F_Q⁻¹(u)|^p du with u = Φ(z), F_Q⁻¹(Φ(z)) = g_θ(z), i.e.
      ∫ |F_P⁻¹(Φ(z)) − g_θ(z)|^p φ(z) dz (midpoint rule in z over [−latent_span, latent_span], F_P⁻¹ by bisection);
    * ``eq3``, ``eq4`` — the paper's formulas in x: −2 ∫ (x − T(x)) ∇_θT(x) p_r(x) dx and ∫ sign(T(x) − x) ∇_θT(x)
      p_r(x) dx with the explicit optimal map T(x; θ) = g_θ(Φ⁻¹(F_P(x))) and ∇_θT = (1, z*, z*³), z* = Φ⁻¹(F_P(x))
      (midpoint rule in x over [−span, span]).

    (Eq. (4)'s ±1 is sign(T(x) − x): the derivative of |x − T(x)| in T.) Gradients ``(3,)``, float64; also the
    values ``w2_squared`` and ``w1``."""
    theta0 = torch.tensor([float(t) for t in theta], dtype=torch.float64)
    if theta0.shape != (3,) or theta0[1] <= 0 or theta0[2] < 0:
        raise ValueError(f"prop41_gradients needs θ = (θ0, θ1 > 0, θ2 >= 0) so that g_θ is increasing, got {theta}")
    m, s, w = mixture["means"], mixture["stds"], mixture["weights"]
    dz = 2 * latent_span / n_latent
    z = -latent_span + (torch.arange(n_latent, dtype=torch.float64) + 0.5) * dz
    phi = torch.exp(-0.5 * z ** 2) / math.sqrt(2 * math.pi) * dz
    quantile_p = invert_cdf(lambda x: gaussian_mixture_cdf(x, m, s, w), torch.special.ndtr(z), -50.0, 50.0, 70)
    out = {}
    for p_, key, name in ((2.0, "autograd_w2", "w2_squared"), (1.0, "autograd_w1", "w1")):
        th = theta0.clone().requires_grad_(True)
        value = ((quantile_p - cubic_generator(th, z)).abs().pow(p_) * phi).sum()
        (grad,) = torch.autograd.grad(value, th)
        out[key], out[name] = grad.numpy(), float(value.detach())
    dx = 2 * span / n_grid
    x = -span + (torch.arange(n_grid, dtype=torch.float64) + 0.5) * dx
    p_r = gaussian_mixture_pdf(x, m, s, w)
    z_star = torch.special.ndtri(gaussian_mixture_cdf(x, m, s, w).clamp(1e-300, 1 - 1e-16))
    transport = cubic_generator(theta0, z_star)
    grad_t = torch.stack([torch.ones_like(z_star), z_star, z_star ** 3])  # (3, n_grid)
    out["eq3"] = (-2 * ((x - transport) * grad_t * p_r).sum(dim=1) * dx).numpy()
    out["eq4"] = ((torch.sign(transport - x) * grad_t * p_r).sum(dim=1) * dx).numpy()
    return out


def minibatch_gradient(theta: Sequence[float], n: int, seed: int, p: float = 2.0, mixture: dict = REAL_MIXTURE
                       ) -> np.ndarray:
    """∇_θ of the exact OT cost between a batch of n generated points g_θ(z) and n real points (the W2 GAN's loss,
    :func:`lsgan_lib.models.objectives.minibatch_w2_loss`, for p = 2; :func:`lsgan_lib.measure.metrics.wasserstein` W1
    for p = 1): a stochastic estimate of Eq. (3) / (4). Shape ``(3,)``."""
    from .metrics import wasserstein
    from ..models.objectives import minibatch_w2_loss

    generator = torch.Generator().manual_seed(seed)
    comp = torch.multinomial(torch.tensor(mixture["weights"], dtype=torch.float64), n, True, generator=generator)
    real = (torch.tensor(mixture["means"], dtype=torch.float64)[comp]
            + torch.tensor(mixture["stds"], dtype=torch.float64)[comp]
            * torch.randn(n, generator=generator, dtype=torch.float64))
    z = torch.randn(n, generator=generator, dtype=torch.float64)
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    fake = cubic_generator(th, z)[:, None]
    loss = minibatch_w2_loss(fake, real[:, None]) if p == 2 else wasserstein(fake, real[:, None], 1.0)
    (grad,) = torch.autograd.grad(loss, th)
    return grad.numpy()


def relative_error(estimate: np.ndarray, reference: np.ndarray) -> float:
    """‖estimate − reference‖ / ‖reference‖."""
    return float(np.linalg.norm(np.asarray(estimate) - np.asarray(reference)) / np.linalg.norm(reference))


# ---------------------------------------------------------------------------------------------------------------------
# Proposition 4.2 on 1-D densities: finite differences with the optimal discriminator against Eqs. (5)–(6)
# ---------------------------------------------------------------------------------------------------------------------


def gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, std²) (differentiable in mean and std)."""
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)


def mixture_log_density(x: torch.Tensor, mixture: dict = REAL_MIXTURE) -> torch.Tensor:
    """log p_r(x) of a 1-D Gaussian mixture, computed stably (logsumexp)."""
    parts = [math.log(wk) + gaussian_log_density(x, torch.tensor(mk, dtype=torch.float64),
                                                  torch.tensor(sk, dtype=torch.float64))
             for mk, sk, wk in zip(mixture["means"], mixture["stds"], mixture["weights"])]
    return torch.logsumexp(torch.stack(parts), dim=0)


def generator_objectives_at_optimal_d(theta: Sequence[float], theta_d: Sequence[float], mixture: dict = REAL_MIXTURE,
                                      n_grid: int = 40_001, span: float = 12.0) -> dict[str, float]:
    """E_z[−log D*(g_θ(z))] and E_z[log(1 − D*(g_θ(z)))] for g_θ(z) = θ₀ + θ₁z, z ~ N(0, 1), with the optimal
    discriminator D* = p_r / (p_r + q_{θ_d}) held at ``theta_d`` (midpoint rule in z over [−span, span])."""
    dz = 2 * span / n_grid
    z = -span + (torch.arange(n_grid, dtype=torch.float64) + 0.5) * dz
    weight = torch.exp(-0.5 * z ** 2) / math.sqrt(2 * math.pi) * dz
    x = theta[0] + theta[1] * z
    log_ratio = (gaussian_log_density(x, torch.tensor(float(theta_d[0]), dtype=torch.float64),
                                      torch.tensor(float(theta_d[1]), dtype=torch.float64))
                 - mixture_log_density(x, mixture))  # log q_{θ_d}(x) / p_r(x)
    minus_log_d = torch.nn.functional.softplus(log_ratio)  # −log D* = log(1 + q/p)
    log_one_minus_d = -torch.nn.functional.softplus(-log_ratio)  # log(1 − D*) = log(q/(p+q))
    return {"non_saturating": float((weight * minus_log_d).sum()), "minimax": float((weight * log_one_minus_d).sum())}


def prop42_gradients(theta: Sequence[float], mixture: dict = REAL_MIXTURE, step: float = 1e-5,
                     n_grid: int = 200_001, span: float = 15.0) -> dict[str, np.ndarray]:
    """∇_θ of the two generator objectives at the optimal discriminator, two ways, for Q_θ = N(θ₀, θ₁²):

    * ``fd_eq5``, ``fd_eq6`` — central finite differences (``step``) of E_z[−log D*(g_θ(z))] and
      E_z[log(1 − D*(g_θ(z)))], D* held at θ (:func:`generator_objectives_at_optimal_d`, an integral over z);
    * ``eq5``, ``eq6`` — the paper's right-hand sides E_{Q_θ}[∇_θ log q_θ (1 + log(q_m/p_r))] and
      E_{Q_θ}[∇_θ log q_θ log(q_θ/q_m)], an integral over x with ∇_θ log q_θ from autograd of the closed-form
      density. All ``(2,)``, float64."""
    if theta[1] <= 0:
        raise ValueError(f"prop42_gradients needs a positive scale θ1, got {theta}")
    out = {"fd_eq5": np.zeros(2), "fd_eq6": np.zeros(2)}
    for i in range(2):
        plus, minus = list(map(float, theta)), list(map(float, theta))
        plus[i] += step
        minus[i] -= step
        up = generator_objectives_at_optimal_d(plus, theta, mixture)
        down = generator_objectives_at_optimal_d(minus, theta, mixture)
        out["fd_eq5"][i] = (up["non_saturating"] - down["non_saturating"]) / (2 * step)
        out["fd_eq6"][i] = (up["minimax"] - down["minimax"]) / (2 * step)
    dx = 2 * span / n_grid
    x = -span + (torch.arange(n_grid, dtype=torch.float64) + 0.5) * dx
    th = torch.tensor([float(t) for t in theta], dtype=torch.float64, requires_grad=True)
    log_q = gaussian_log_density(x, th[0], th[1])
    score = torch.stack([(x - th[0]) / th[1] ** 2, -1 / th[1] + (x - th[0]) ** 2 / th[1] ** 3]).detach()
    (check,) = torch.autograd.grad(log_q[len(x) // 3], th)  # autograd agrees with the closed-form score
    if not torch.allclose(check, score[:, len(x) // 3], rtol=1e-10, atol=1e-12):
        raise AssertionError("closed-form score of the Gaussian disagrees with autograd")
    log_q = log_q.detach()
    log_p = mixture_log_density(x, mixture)
    log_m = torch.logaddexp(log_p, log_q) - LOG2
    q = torch.exp(log_q)
    out["eq5"] = ((score * q * (1 + log_m - log_p)).sum(dim=1) * dx).numpy()
    out["eq6"] = ((score * q * (log_q - log_m)).sum(dim=1) * dx).numpy()
    return out


def minibatch_w2_squared(x: torch.Tensor, y: torch.Tensor, batch_size: int, n_batches: int, seed: int = 0
                         ) -> np.ndarray:
    """The W2 GAN's loss as an estimator: the exact OT cost W2² between ``n_batches`` pairs of random batches of
    ``batch_size`` points drawn without replacement from two large samples ``x``, ``y`` ``(n, d)``. Returns
    ``(n_batches,)``; its mean minus the exact W2² of the large samples is the minibatch estimator's bias (positive:
    a batch is matched less well than the population)."""
    from ..models.objectives import minibatch_w2_loss

    if x.ndim != 2 or x.shape[1:] != y.shape[1:] or min(len(x), len(y)) < batch_size or batch_size < 1:
        raise ValueError(f"minibatch_w2_squared needs (n, d) samples with n >= batch_size = {batch_size}; got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(n_batches):
        a = x[torch.randperm(len(x), generator=generator)[:batch_size]].double()
        b = y[torch.randperm(len(y), generator=generator)[:batch_size]].double()
        values.append(float(minibatch_w2_loss(a, b)))
    return np.asarray(values)


# ---------------------------------------------------------------------------------------------------------------------
# The debiased Sinkhorn divergence: an estimator of W2² that prefers the data (issue 28)
# ---------------------------------------------------------------------------------------------------------------------


def entropic_ot(x: torch.Tensor, y: torch.Tensor, epsilon: float, max_iter: int = 2000, tol: float = 1e-7
                ) -> torch.Tensor:
    """The entropic optimal-transport cost OT_ε between the uniform empirical measures of ``x`` ``(n, d)`` and
    ``y`` ``(m, d)`` for the cost ‖x − y‖² (so that OT_ε → W2² as ε → 0): min_π ⟨π, C⟩ + ε KL(π | a ⊗ b), computed
    as the dual value ⟨a, f⟩ + ⟨b, g⟩ of log-domain Sinkhorn iterations, with ε annealed geometrically from the
    largest cost down to ``epsilon`` (ε-scaling), with averaged symmetric updates, and then iterated at ``epsilon``
    until the potentials move by less than ``tol`` (or ``max_iter`` iterations). Float64 throughout; a measurement (no
    gradient): returns a 0-d tensor."""
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or epsilon <= 0:
        raise ValueError(f"entropic_ot needs (n, d) and (m, d) samples and epsilon > 0, got {tuple(x.shape)}, "
                         f"{tuple(y.shape)}, epsilon={epsilon}")
    x, y = x.detach().double(), y.detach().double()
    cost = torch.cdist(x, y) ** 2  # (n, m)
    log_a = torch.full((len(x),), -math.log(len(x)), dtype=torch.float64, device=x.device)
    log_b = torch.full((len(y),), -math.log(len(y)), dtype=torch.float64, device=x.device)
    with torch.no_grad():
        c = cost
        f, g = torch.zeros_like(log_a), torch.zeros_like(log_b)
        eps = max(float(c.max()), epsilon)
        schedule = []
        while eps > epsilon:
            schedule.append(eps)
            eps *= 0.5
        for step, e in enumerate(schedule + [epsilon] * max_iter):  # symmetric (averaged) updates, as geomloss
            f_new = 0.5 * (f - e * torch.logsumexp(log_b[None, :] + (g[None, :] - c) / e, dim=1))
            g_new = 0.5 * (g - e * torch.logsumexp(log_a[:, None] + (f[:, None] - c) / e, dim=0))
            moved = max(float((f_new - f).abs().max()), float((g_new - g).abs().max()))
            f, g = f_new, g_new
            if step >= len(schedule) and moved < tol:
                break
        # one last full update of both potentials, then the dual value
        f = -epsilon * torch.logsumexp(log_b[None, :] + (g[None, :] - c) / epsilon, dim=1)
        g = -epsilon * torch.logsumexp(log_a[:, None] + (f[:, None] - c) / epsilon, dim=0)
    return (log_a.exp() * f).sum() + (log_b.exp() * g).sum()  # the dual value at the converged potentials


def sinkhorn_divergence(x: torch.Tensor, y: torch.Tensor, epsilon: float, max_iter: int = 2000, tol: float = 1e-7
                        ) -> torch.Tensor:
    """The debiased Sinkhorn divergence S_ε(x, y) = OT_ε(x, y) − ½ OT_ε(x, x) − ½ OT_ε(y, y) (Genevay et al. 2018,
    Feydy et al. 2019) between the uniform empirical measures of ``x`` ``(n, d)`` and ``y`` ``(m, d)``, cost ‖x − y‖²
    (:func:`entropic_ot`). S_ε(x, x) = 0, it is symmetric, non-negative and, unlike OT_ε or the minibatch OT cost,
    is not smallest for a spread-out measure: for the quadratic cost S_ε(x, x + t) = ‖t‖² exactly. A 0-d float64
    tensor."""
    return (entropic_ot(x, y, epsilon, max_iter, tol)
            - 0.5 * entropic_ot(x, x, epsilon, max_iter, tol) - 0.5 * entropic_ot(y, y, epsilon, max_iter, tol))
