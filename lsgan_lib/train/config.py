"""What determines a toy GAN run and what a trained run is: :class:`GANConfig` (its fields are the results-cache key),
:class:`GANRun`, the networks a configuration builds, its random streams and evaluation inputs, the mixed-precision
setting (:data:`PRECISIONS`, :func:`autocast`) shared by every trainer, and the errors of training.

The loop that trains these configurations is :mod:`lsgan_lib.train.batched` (K runs as one stacked model; a single
run is K = 1); :mod:`lsgan_lib.train.toy` is the public entry point.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from .. import cache
from ..data.distributions import data_manifold, latent, latent_grid
from ..models.nets import ACTIVATIONS, INITIALISATIONS, PAPER_002_WIDTHS, fc_net, he_uniform_init
from ..models.objectives import objective, traits

CACHE_KIND = "gan"
# The trainers' arithmetic: "fp32" everywhere, or "bf16": the networks' forward passes under torch.autocast with
# bfloat16 (matrix products and convolutions in bf16), parameters, optimizer state, losses and metrics in float32.
PRECISIONS = ("fp32", "bf16")
LATENT_GRID_POINTS = {1: 400, 2: 41}  # grid points per axis of the latent grids pushed through the generator


def check_precision(precision: str, name: str = "precision") -> None:
    """Raise ``ValueError`` naming ``name`` and the choices unless ``precision`` is one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"{name} must be one of {PRECISIONS} (fp32: float32 throughout; bf16: the networks' forward "
                         f"passes under torch.autocast with bfloat16), got {precision!r}")


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """The context in which the networks' forward passes run: nothing for ``"fp32"``; for ``"bf16"``
    ``torch.autocast(device.type, torch.bfloat16)`` (CPU or CUDA, the device type of the tensors trained). Parameters
    stay float32 (autocast casts them per operation); callers cast what leaves the networks back to float32, so that
    losses, the gradient penalty's norm and the optimizer see float32."""
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision='bf16' needs a GPU with bfloat16 support; {torch.cuda.get_device_name(device)} "
                         "has none: use precision='fp32'")
    return torch.autocast(device.type, dtype=torch.bfloat16)


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the run and the iteration."""


@dataclass(frozen=True)
class GANConfig:
    """Everything that determines a toy GAN run (and so its cache key).

    The defaults are paper 002's stated settings: RMSprop with lr 1e-3, multiplied by 0.98 every 300 iterations,
    batch 256, one discriminator and one generator batch per iteration, 10,000 iterations, the FC
    20-40-100-200-200-100-40-20 net with batch norm and ELU for both networks. RMSprop's smoothing constant
    (``rmsprop_alpha``), its ε (``rmsprop_eps``) and ``weight_decay`` default to PyTorch's values; the paper's
    original code used 0.9, 1.0 and 5e-4. The objective chooses the optimizer: WGAN-GP trains with Adam (its β from
    the objective, ε 1e-8; the RMSprop fields are then unused), and WGAN (clipping) and WGAN-GP want ``lr`` and
    ``n_critic`` set to their papers' values (5e-5 and 1e-4, 5 critic steps). ``snapshots`` are the iterations after
    which ``n_eval`` generated samples (from fixed latents) and the image of a latent grid are stored.
    ``batch_norm`` and ``activation`` choose the net's form (:func:`lsgan_lib.models.nets.fc_net`): ``batch_norm=False,
    activation="relu", widths=TOY_MLP_WIDTHS`` is the WGAN-GP toy code's MLP. ``critic_update`` is ``"joint"`` (one
    critic update per critic step on the loss of a real and a generated batch together) or ``"split"`` (paper 002's
    original code: an update on the real batch's half of the loss, then a separate update on the generated batch's
    half, so batch norm and the optimizer see each alone; minimax and non-saturating objectives only).
    ``critic_warmup`` adds Arjovsky et al.'s critic warm-up (:func:`critic_steps`: 100 critic steps for the first 25
    generator iterations and every 500th; their image code, not the WGAN-GP toy script's ``MODE = 'wgan'``).
    ``precision`` is ``"fp32"`` or ``"bf16"`` (:data:`PRECISIONS`, :func:`autocast`: the networks' forward passes in
    bfloat16, everything else in float32). ``optimizer`` overrides the objective's choice (:data:`OPTIMIZERS`:
    ``"objective"`` keeps it; ``"rmsprop"`` or ``"adam"`` train any objective with that optimizer), and
    ``adam_betas`` overrides Adam's β (``()`` keeps the objective's): ``optimizer="adam", lr=2e-4,
    adam_betas=(0.5, 0.999), lr_decay=1.0`` is the DCGAN reference optimizer of the minimax and −log D GANs
    (Radford et al.; Gulrajani et al.'s ``gan_mnist.py`` in ``dcgan`` mode: Adam 2e-4, β1 0.5, TensorFlow's
    β2 0.999, one D step). ``init`` is ``"default"`` (PyTorch's) or ``"he_uniform"``
    (:func:`lsgan_lib.models.nets.he_uniform_init`, the WGAN-GP toy code's).

    Three options of paper 002's translation (default-off; :data:`CRITIC_BATCH_NORMS`, :data:`LOSS_REDUCTIONS`,
    :data:`SAMPLE_STATISTICS`): ``critic_batch_norm`` is the critic's batch norm — ``"batch"`` (each pass normalises
    with its own batch's statistics, as ``nn.BatchNorm1d`` in training mode), ``"none"`` (the critic has no batch
    norm; the generator keeps ``batch_norm``'s) or ``"running"`` (every training pass, real or generated, updates the
    running statistics, momentum 0.1, and the critic normalises with them, treated as constants: statistics shared by
    the real and the generated passes). ``loss_reduction`` is ``"mean"`` (losses are batch means) or ``"sum"`` (the
    same losses × ``batch_size``: sums over the batch). ``sample_statistics`` is how the snapshots are drawn:
    ``"running"`` (eval mode, batch norm's running statistics) or ``"batch"`` (as paper 002's code draws: training
    mode on the evaluation batch, normalised with that batch's statistics, running statistics left untouched; the
    latent grid is normalised with the evaluation batch's statistics too).
    """

    data: str
    latent: str = "gaussian"
    latent_dim: int = 2
    objective: str = "minimax"
    n_iter: int = 10_000
    batch_size: int = 256
    lr: float = 1e-3
    lr_decay: float = 0.98
    lr_decay_every: int = 300
    weight_decay: float = 0.0
    rmsprop_alpha: float = 0.99
    rmsprop_eps: float = 1e-8
    n_critic: int = 1
    n_gen: int = 1
    widths: tuple[int, ...] = PAPER_002_WIDTHS
    snapshots: tuple[int, ...] = (10_000,)
    n_eval: int = 2_000
    seed: int = 0
    batch_norm: bool = True
    activation: str = "elu"
    critic_update: str = "joint"
    critic_warmup: bool = False
    precision: str = "fp32"
    optimizer: str = "objective"
    adam_betas: tuple[float, ...] = ()
    init: str = "default"
    critic_batch_norm: str = "batch"
    loss_reduction: str = "mean"
    sample_statistics: str = "running"

    def __post_init__(self):
        data_manifold(self.data), latent(self.latent), objective(self.objective)  # unknown names raise here
        check_precision(self.precision, "GANConfig.precision")
        fixed = latent(self.latent).fixed_dim
        if fixed is not None and self.latent_dim != fixed:
            raise ValueError(f"GANConfig: the {self.latent} latent is a point set of R^{fixed}: set "
                             f"latent_dim={fixed}, got {self.latent_dim}")
        for name, choices in (("critic_batch_norm", CRITIC_BATCH_NORMS), ("loss_reduction", LOSS_REDUCTIONS),
                              ("sample_statistics", SAMPLE_STATISTICS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"GANConfig.{name} must be one of {choices}, got {getattr(self, name)!r}")
        if not self.batch_norm and (self.critic_batch_norm == "running" or self.sample_statistics == "batch"):
            raise ValueError("GANConfig: critic_batch_norm='running' and sample_statistics='batch' choose how batch "
                             "norm normalises; they need batch_norm=True")
        if self.critic_update not in CRITIC_UPDATES:
            raise ValueError(f"GANConfig.critic_update must be one of {CRITIC_UPDATES}, got {self.critic_update!r}")
        if self.critic_update == "split" and not hasattr(objective(self.objective), "critic_loss_real"):
            raise ValueError(f"GANConfig: critic_update='split' needs an objective whose critic loss splits into a "
                             f"real and a generated half (minimax, non_saturating); {self.objective!r} does not")
        positive = ("latent_dim", "n_iter", "batch_size", "lr_decay_every", "n_critic", "n_gen", "n_eval")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"GANConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and 0 < self.lr_decay <= 1 and self.weight_decay >= 0 and 0 <= self.rmsprop_alpha < 1
                and self.rmsprop_eps > 0):
            raise ValueError(f"GANConfig needs lr > 0, 0 < lr_decay <= 1, weight_decay >= 0, 0 <= rmsprop_alpha < 1, "
                             f"rmsprop_eps > 0; got lr={self.lr}, lr_decay={self.lr_decay}, weight_decay="
                             f"{self.weight_decay}, rmsprop_alpha={self.rmsprop_alpha}, rmsprop_eps={self.rmsprop_eps}")
        if self.critic_warmup and not traits(objective(self.objective)).uses_critic:
            raise ValueError(f"GANConfig: critic_warmup needs an objective with a critic; {self.objective!r} has none")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"GANConfig.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        object.__setattr__(self, "adam_betas", tuple(float(b) for b in self.adam_betas))
        if self.adam_betas and (len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas)):
            raise ValueError(f"GANConfig.adam_betas must be () (the objective's) or two numbers in [0, 1), got "
                             f"{self.adam_betas}")
        if self.adam_betas and optimizer_of(self)[0] != "adam":
            raise ValueError(f"GANConfig: adam_betas={self.adam_betas} needs Adam; {self.objective!r} with "
                             f"optimizer={self.optimizer!r} trains with {optimizer_of(self)[0]}")
        if self.init not in INITIALISATIONS:
            raise ValueError(f"GANConfig.init must be one of {INITIALISATIONS}, got {self.init!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"GANConfig.activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        bad = [s for s in self.snapshots if not 0 <= s <= self.n_iter]
        if bad:
            raise ValueError(f"GANConfig.snapshots must lie in [0, n_iter={self.n_iter}], got {bad}")
        object.__setattr__(self, "widths", tuple(self.widths))
        object.__setattr__(self, "snapshots", tuple(sorted(set(self.snapshots))))

    def as_dict(self) -> dict:
        """The fields as a dict: the results-cache key. Fields added after results were first published
        (:data:`LATER_FIELDS`) are left out while they hold their defaults, so those results stay cache hits."""
        fields = dataclasses.asdict(self)
        for name, default in LATER_FIELDS.items():
            if fields[name] == default:
                del fields[name]
        return fields

    def describe(self) -> str:
        return f"data={self.data}, latent={self.latent}×{self.latent_dim}, objective={self.objective}, seed={self.seed}"


LATER_FIELDS: dict[str, object] = {"batch_norm": True, "activation": "elu", "critic_update": "joint",
                                    "critic_warmup": False, "precision": "fp32", "optimizer": "objective",
                                    "adam_betas": (), "init": "default", "critic_batch_norm": "batch",
                                    "loss_reduction": "mean", "sample_statistics": "running"}
OPTIMIZERS = ("objective", "rmsprop", "adam")


def optimizer_of(config: GANConfig) -> tuple[str, tuple[float, float]]:
    """The optimizer that trains ``config`` (``"rmsprop"`` or ``"adam"``) and Adam's β: the objective's
    (:func:`lsgan_lib.models.objectives.traits`) unless ``config.optimizer`` / ``config.adam_betas`` override them."""
    how = traits(objective(config.objective))
    kind = how.optimizer if config.optimizer == "objective" else config.optimizer
    return kind, tuple(config.adam_betas) or tuple(how.adam_betas)
CRITIC_UPDATES = ("joint", "split")
CRITIC_BATCH_NORMS = ("batch", "none", "running")  # the critic's batch norm (GANConfig.critic_batch_norm)
LOSS_REDUCTIONS = ("mean", "sum")  # the losses over the batch (GANConfig.loss_reduction)
SAMPLE_STATISTICS = ("running", "batch")  # batch norm's statistics when snapshots are drawn
# Arjovsky et al.'s critic warm-up (their main.py): 100 critic steps before each of the first 25 generator iterations
# and before every 500th.
WARMUP_CRITIC_STEPS, WARMUP_FIRST, WARMUP_EVERY = 100, 25, 500


def critic_steps(config: GANConfig, it: int) -> int:
    """The critic steps before generator iteration ``it`` (1-based): ``config.n_critic``, or with
    ``config.critic_warmup`` :data:`WARMUP_CRITIC_STEPS` for the first :data:`WARMUP_FIRST` generator iterations and
    every :data:`WARMUP_EVERY`-th (Arjovsky et al.'s ``gen_iterations < 25 or gen_iterations % 500 == 0``, whose
    ``gen_iterations`` counts from 0, i.e. ``it - 1``)."""
    if config.critic_warmup and (it <= WARMUP_FIRST or (it - 1) % WARMUP_EVERY == 0):
        return WARMUP_CRITIC_STEPS
    return config.n_critic


@dataclass
class GANRun:
    """A trained run.

    ``snapshots[i]`` is ``(n_eval, data_dim)``: generated samples after ``snapshot_iters[i]`` iterations, from the same
    latents at every snapshot; ``grid_images[i]`` is ``(grid_points, data_dim)``, the image of ``latent_grid``;
    ``losses`` is ``(n_iter, 2)``: critic and generator loss per iteration.
    """

    config: GANConfig
    generator: nn.Module
    critic: nn.Module
    snapshot_iters: list[int]
    snapshots: torch.Tensor
    grid: torch.Tensor
    grid_images: torch.Tensor
    losses: torch.Tensor
    device: str
    seconds: float
    from_cache: bool = False
    extra: dict = field(default_factory=dict)

    def at(self, iteration: int) -> torch.Tensor:
        """The generated samples ``(n_eval, data_dim)`` stored at snapshot ``iteration``."""
        return self.snapshots[self.snapshot_iters.index(iteration)]

    @property
    def final(self) -> torch.Tensor:
        """The generated samples at the last snapshot, ``(n_eval, data_dim)``."""
        return self.snapshots[-1]


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_networks(config: GANConfig) -> tuple[nn.Module, nn.Module]:
    """Generator ``(batch, latent_dim) → (batch, data_dim)`` and critic ``(batch, data_dim) → (batch, 1)``,
    initialised from ``config.seed`` without touching the global random state."""
    data_dim = data_manifold(config.data).dim
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        generator = fc_net(config.latent_dim, data_dim, config.widths, config.batch_norm, config.activation)
        critic = fc_net(data_dim, 1, config.widths, config.batch_norm and config.critic_batch_norm != "none",
                        config.activation)
        if config.init == "he_uniform":
            he_uniform_init(generator), he_uniform_init(critic)
    return generator, critic


def random_stream(seed: int, purpose: int, device: torch.device) -> torch.Generator:
    """An independent random stream for one purpose (0: training batches, 1: evaluation latents) of a seed."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + purpose)


ADAM_EPS = 1e-8  # Adam's ε (torch.optim's default)


def evaluation_inputs(config: GANConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed latents of the snapshots ``(n_eval, latent_dim)`` and the latent grid pushed through the generator
    ``(grid_points, latent_dim)`` (a regular grid for 1-d and 2-d latents, else samples), from the seed's evaluation
    stream."""
    evaluation = random_stream(config.seed, 1, device)
    z = latent(config.latent)
    z_eval = z.sample(config.n_eval, config.latent_dim, evaluation)
    if config.latent_dim <= 2:
        return z_eval, latent_grid(config.latent, config.latent_dim, LATENT_GRID_POINTS[config.latent_dim], device)
    return z_eval, z.sample(LATENT_GRID_POINTS[2] ** 2, config.latent_dim, evaluation)


def device_name(device: torch.device | str | None = None, threads: int | None = None) -> str:
    """A readable device name: the GPU's name, or ``cpu (<n> threads)`` — ``threads`` when given (a chapter's
    ``cpu_threads`` before its setup cell applies it), else torch's current count."""
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({threads or torch.get_num_threads()} threads)"


def check_gan_payload(config: GANConfig, payload: dict) -> None:
    """Raise unless ``payload`` can be read as a run of ``config``: both networks' state dicts load strictly, every
    field of a :class:`GANRun` is there, and the weights and snapshots are finite (unless the payload records the
    iteration at which the run diverged). The results cache treats an entry that fails this as corrupt."""
    diverged = int(payload.get("diverged_at", -1)) >= 0
    generator, critic = build_networks(config)
    cache.check_networks(payload, allow_non_finite=diverged, generator=generator, critic=critic)
    missing = [k for k in ("snapshot_iters", "snapshots", "grid", "grid_images", "losses", "device", "seconds")
               if k not in payload]
    if missing:
        raise KeyError(f"the payload has no {', '.join(missing)}")
    if not diverged:
        cache.check_finite(payload, "snapshots", "grid_images")


def run_from_payload(config: GANConfig, payload: dict, from_cache: bool) -> GANRun:
    generator, critic = build_networks(config)
    generator.load_state_dict(payload["generator"]), critic.load_state_dict(payload["critic"])
    generator.eval(), critic.eval()
    return GANRun(config=config, generator=generator, critic=critic, snapshot_iters=list(payload["snapshot_iters"]),
                  snapshots=payload["snapshots"], grid=payload["grid"], grid_images=payload["grid_images"],
                  losses=payload["losses"], device=payload["device"], seconds=float(payload["seconds"]),
                  from_cache=from_cache)
