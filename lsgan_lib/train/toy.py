"""The alternating GAN training loop, cached by configuration.

``train_gan(GANConfig(...))`` trains one generator/critic pair on a toy distribution, or loads it from the results
cache when the same configuration was trained before; ``train_runs([...])`` does this for a list of configurations
under one progress bar (``lsgan_lib.train.batched.train_batched`` trains many runs of one architecture shape as one stacked
model, with the same numbers up to float rounding and the same cache entries). Every random choice flows from
``config.seed``: the networks' initialisation, the data and latent batches, and the fixed evaluation latents of the
snapshots.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
from torch import nn
from .. import cache
from ..data.distributions import data_manifold, latent, latent_grid
from ..models.nets import ACTIVATIONS, PAPER_002_WIDTHS, fc_net
from ..models.objectives import objective, traits

CACHE_KIND = "gan"
LATENT_GRID_POINTS = {1: 400, 2: 41}  # grid points per axis of the latent grids pushed through the generator


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

    def ran_elsewhere(self, seconds: float) -> None:
        """The iterations still open ran elsewhere (a Dask worker) and took ``seconds`` there: count them, and let the
        summary line report the workers' time instead of the time since this bar was created, which would include the
        task's wait in the workers' queue."""
        self._elsewhere += seconds
        self.update(self.total - self.n)

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

    def __post_init__(self):
        data_manifold(self.data), latent(self.latent), objective(self.objective)  # unknown names raise here
        fixed = latent(self.latent).fixed_dim
        if fixed is not None and self.latent_dim != fixed:
            raise ValueError(f"GANConfig: the {self.latent} latent is a point set of R^{fixed}: set latent_dim={fixed}, "
                             f"got {self.latent_dim}")
        if self.critic_update not in CRITIC_UPDATES:
            raise ValueError(f"GANConfig.critic_update must be one of {CRITIC_UPDATES}, got {self.critic_update!r}")
        if self.critic_update == "split" and not hasattr(objective(self.objective), "critic_loss_real"):
            raise ValueError(f"GANConfig: critic_update='split' needs an objective whose critic loss splits into a real "
                             f"and a generated half (minimax, non_saturating); {self.objective!r} does not")
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
                                    "critic_warmup": False}
CRITIC_UPDATES = ("joint", "split")
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
        critic = fc_net(data_dim, 1, config.widths, config.batch_norm, config.activation)
    return generator, critic


def _stream(seed: int, purpose: int, device: torch.device) -> torch.Generator:
    """An independent random stream for one purpose (0: training batches, 1: evaluation latents) of a seed."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + purpose)


ADAM_EPS = 1e-8


def _optimizer(net: nn.Module, config: GANConfig):
    """The objective's optimizer (RMSprop, or Adam for WGAN-GP) with the configuration's step LR schedule."""
    how = traits(objective(config.objective))
    if how.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=how.adam_betas, eps=ADAM_EPS,
                               weight_decay=config.weight_decay)
    else:
        opt = torch.optim.RMSprop(net.parameters(), lr=config.lr, alpha=config.rmsprop_alpha, eps=config.rmsprop_eps,
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=config.lr_decay_every, gamma=config.lr_decay)
    return opt, schedule


@torch.no_grad()
def _evaluate(generator: nn.Module, z_eval: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Generated samples for the fixed latents and the latent grid's image, in eval mode (running BN statistics)."""
    generator.eval()
    samples, image = generator(z_eval), generator(grid)
    generator.train()
    return samples.cpu(), image.cpu()


def _check_finite(losses: torch.Tensor, start: int, stop: int, config: GANConfig) -> None:
    """Raise :class:`TrainingDiverged` naming the first iteration in ``[start, stop)`` with a non-finite loss (any
    configuration with ``describe()``: toy or image)."""
    window = losses[start:stop]
    finite = torch.isfinite(window).all(dim=1)
    if not bool(finite.all()):
        row = int((~finite).nonzero()[0, 0])
        which = "critic" if not torch.isfinite(window[row, 0]) else "generator"
        raise TrainingDiverged(
            f"training diverged: the {which} loss became {window[row].tolist()} at iteration {start + row + 1} "
            f"({config.describe()}). Lower lr, change the seed, or pick another objective; nothing was cached.")


def critic_step(loss, critic: nn.Module, optimizer: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
                mix: torch.Tensor | None = None) -> torch.Tensor:
    """One critic update on a real batch ``(batch, dim)`` and a detached generated batch ``(batch, dim)``; ``mix``
    ``(batch, 1)`` are the interpolation weights of a gradient penalty. Clips the weights if the objective does.

    Returns the loss before the update (a detached scalar tensor)."""
    value = loss.critic_loss(critic, real, fake, mix) if mix is not None else loss.critic_loss(critic, real, fake)
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    optimizer.step()
    clip = traits(loss).clip
    if clip is not None:
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-clip, clip)
    return value.detach()


def split_critic_step(loss, critic: nn.Module, optimizer: torch.optim.Optimizer, real: torch.Tensor,
                      fake: torch.Tensor) -> torch.Tensor:
    """Paper 002's original discriminator update: one update on the real batch ``(batch, dim)`` alone (its half of the
    loss, target label 1), then a separate one on the detached generated batch ``(batch, dim)`` alone (target 0).

    Returns the sum of the two halves, each measured before its own update (a detached scalar tensor)."""
    total = torch.zeros((), device=real.device)
    for half, batch in ((loss.critic_loss_real, real), (loss.critic_loss_fake, fake)):
        value = half(critic, batch)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        total = total + value.detach()
    return total


def generator_step(loss, generator: nn.Module, critic: nn.Module, optimizer: torch.optim.Optimizer, z: torch.Tensor,
                   real: torch.Tensor | None = None) -> torch.Tensor:
    """One generator update on a latent batch ``(batch, latent_dim)``; the critic's weights get no gradient. ``real``
    ``(batch, dim)`` is passed on to objectives without a critic (minibatch OT).

    Returns the loss before the update (a detached scalar tensor)."""
    critic.requires_grad_(False)
    try:
        fake = generator(z)
        value = loss.generator_loss(critic, fake) if real is None else loss.generator_loss(critic, fake, real)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    finally:
        critic.requires_grad_(True)
    return value.detach()


def _mix(batch_size: int, stream: torch.Generator) -> torch.Tensor:
    """U(0, 1) interpolation weights ``(batch, 1)`` of a gradient penalty, drawn from the run's batch stream."""
    return torch.rand((batch_size, 1), generator=stream, device=stream.device)


def evaluation_inputs(config: GANConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed latents of the snapshots ``(n_eval, latent_dim)`` and the latent grid pushed through the generator
    ``(grid_points, latent_dim)`` (a regular grid for 1-d and 2-d latents, else samples), from the seed's evaluation
    stream."""
    evaluation = _stream(config.seed, 1, device)
    z = latent(config.latent)
    z_eval = z.sample(config.n_eval, config.latent_dim, evaluation)
    if config.latent_dim <= 2:
        return z_eval, latent_grid(config.latent, config.latent_dim, LATENT_GRID_POINTS[config.latent_dim], device)
    return z_eval, z.sample(LATENT_GRID_POINTS[2] ** 2, config.latent_dim, evaluation)


def _train(config: GANConfig, device: torch.device, bar,
           snapshot_extra: Callable[[nn.Module, nn.Module], dict[str, torch.Tensor]] | None = None,
           record_divergence: bool = False) -> dict:
    """Train one run and return the cache payload (state dicts, snapshots, losses, timing).

    The batch stream's draws, per iteration: for each critic step a data batch, a latent batch and (gradient penalty
    only) the interpolation weights; for each generator step (objectives without a critic only) a data batch, then a
    latent batch. :mod:`lsgan_lib.train.batched` repeats exactly this order per member.

    ``snapshot_extra(generator, critic)`` returns more tensors to store at every snapshot; each name is stacked over the
    snapshots into the payload (the level-set chapter stores the critic's field this way). With ``record_divergence``
    a non-finite loss ends the run instead of raising :class:`TrainingDiverged`: the losses from that iteration on are
    NaN, the remaining snapshots repeat the last one taken, and the payload says ``diverged_at`` (the iteration, or −1)
    and ``reached`` (the number of snapshots taken before it)."""
    started = time.perf_counter()
    data = data_manifold(config.data)
    z = latent(config.latent)
    loss = objective(config.objective)
    how = traits(loss)
    generator, critic = (net.to(device) for net in build_networks(config))
    opt_g, schedule_g = _optimizer(generator, config)
    opt_d, schedule_d = _optimizer(critic, config)
    batches = _stream(config.seed, 0, device)
    z_eval, grid = evaluation_inputs(config, device)

    losses = torch.zeros(config.n_iter, 2, device=device)
    snapshots, grid_images, extras = [], [], []

    def snapshot():
        samples, image = _evaluate(generator, z_eval, grid)
        snapshots.append(samples), grid_images.append(image)
        if snapshot_extra is not None:
            extras.append(snapshot_extra(generator, critic))

    if 0 in config.snapshots:
        snapshot()
    checked, diverged_at = 0, None
    d_loss = torch.zeros((), device=device)  # stays 0 for objectives without a critic
    for it in range(1, config.n_iter + 1):
        for _ in range(critic_steps(config, it) if how.uses_critic else 0):
            real = data.sample(config.batch_size, batches)
            with torch.no_grad():
                fake = generator(z.sample(config.batch_size, config.latent_dim, batches))
            mix = _mix(config.batch_size, batches) if how.gradient_penalty else None
            if config.critic_update == "split":
                d_loss = split_critic_step(loss, critic, opt_d, real, fake)
            else:
                d_loss = critic_step(loss, critic, opt_d, real, fake, mix)
        for _ in range(config.n_gen):
            real = None if how.uses_critic else data.sample(config.batch_size, batches)
            g_loss = generator_step(loss, generator, critic, opt_g, z.sample(config.batch_size, config.latent_dim,
                                                                              batches), real)
        if how.uses_critic:
            schedule_d.step()
        schedule_g.step()
        losses[it - 1, 0], losses[it - 1, 1] = d_loss, g_loss
        if record_divergence and not bool(torch.isfinite(losses[it - 1]).all()):
            diverged_at = it
            losses[it - 1:] = float("nan")
            if bar is not None:
                bar.update(config.n_iter - ((it - 1) // 50) * 50)
            break
        if not record_divergence and (it % 100 == 0 or it == config.n_iter or it in config.snapshots):
            _check_finite(losses, checked, it, config)
            checked = it
        if it in config.snapshots:
            snapshot()
        if bar is not None and (it % 50 == 0 or it == config.n_iter):
            bar.update(50 if it % 50 == 0 else it % 50)
    payload = {
        "generator": {k: v.cpu() for k, v in generator.state_dict().items()},
        "critic": {k: v.cpu() for k, v in critic.state_dict().items()},
        "snapshot_iters": list(config.snapshots),
        "snapshots": None,
        "grid": grid.cpu(),
        "grid_images": None,
        "losses": losses.cpu(),
        "device": device_name(device),
        "seconds": time.perf_counter() - started,
    }
    if record_divergence:
        payload["diverged_at"], payload["reached"] = -1 if diverged_at is None else diverged_at, len(snapshots)
        while len(snapshots) < len(config.snapshots):  # a diverged run repeats its last snapshot
            snapshots.append(snapshots[-1]), grid_images.append(grid_images[-1])
            extras.extend(extras[-1:])
    payload["snapshots"], payload["grid_images"] = torch.stack(snapshots), torch.stack(grid_images)
    for name in extras[0] if extras else ():
        payload[name] = torch.stack([extra[name] for extra in extras])
    return payload


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


def _run_from_payload(config: GANConfig, payload: dict, from_cache: bool) -> GANRun:
    generator, critic = build_networks(config)
    generator.load_state_dict(payload["generator"]), critic.load_state_dict(payload["critic"])
    generator.eval(), critic.eval()
    return GANRun(config=config, generator=generator, critic=critic, snapshot_iters=list(payload["snapshot_iters"]),
                  snapshots=payload["snapshots"], grid=payload["grid"], grid_images=payload["grid_images"],
                  losses=payload["losses"], device=payload["device"], seconds=float(payload["seconds"]),
                  from_cache=from_cache)


def train_gan(config: GANConfig, device: torch.device | str | None = None, progress: bool = True,
              results_root=None, _bar=None) -> GANRun:
    """Train ``config`` (or load it from the results cache). The returned networks are on the CPU in eval mode."""
    device = torch.device(device) if device is not None else default_device()
    own_bar = _bar is None and progress
    bar = ProgressBar(config.n_iter, config.describe(), leave=False) if own_bar else _bar
    try:
        payload, hit = cache.cached(CACHE_KIND, config.as_dict(), lambda: _train(config, device, bar), results_root,
                                    check=lambda p: check_gan_payload(config, p))
    finally:
        if own_bar:
            bar.close()
    if hit and _bar is not None:
        _bar.skip(config.n_iter)
    return _run_from_payload(config, payload, hit)


def train_runs(configs: Sequence[GANConfig] | Iterable[GANConfig], device: torch.device | str | None = None,
               progress: bool = True, results_root=None, desc: str = "training") -> list[GANRun]:
    """Train (or load) several configurations in order, under one progress bar counting iterations."""
    configs = list(configs)
    bar = ProgressBar(sum(c.n_iter for c in configs), desc, enabled=progress)
    try:
        return [train_gan(c, device=device, results_root=results_root, _bar=bar) for c in configs]
    finally:
        bar.close()
