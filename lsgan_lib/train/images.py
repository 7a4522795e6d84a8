"""GANs on image datasets (MNIST, CIFAR-10, CelebA): the alternating GAN loop for image nets.

``train_image_gan(ImageGANConfig(dataset="mnist", objective="level_set", ...))`` trains (or loads from the results
cache) one run: ``n_critic`` critic steps, then ``n_gen`` generator steps, each on a fresh latent batch, for
``n_iter`` iterations, with the critic and generator updates of :func:`critic_step` and
:func:`generator_step`, so every objective of :mod:`lsgan_lib.models.objectives` works unchanged. The
objectives see images as flat vectors ``(batch, C·H·W)`` (the nets are wrapped for training), so WGAN-GP's penalty
takes the gradient's norm over the whole image.

The optimizer is explicit in the configuration (``optimizer``, ``lr``, ``betas``; RMSprop for WGAN with clipping and
the Level Set GAN's Algorithm 1, Adam for DCGAN and WGAN-GP): image papers fix their own, unlike the toy runs where the
objective picks it. Losses are recorded every iteration; a non-finite loss raises
:class:`~lsgan_lib.train.config.TrainingDiverged` naming the iteration, and nothing is cached.

Shapes: images ``(batch, channels, size, size)`` in [−1, 1]; latents ``(batch, latent_dim)``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from .. import cache
from ..data.images import SPLITS, load_images
from ..data.distributions import latent
from ..models.nets import CRITIC_NORMS, IMAGE_NETS, image_networks
from ..models.objectives import objective, traits
from .cluster import map_here_or_on_cluster, train_here_or_on_cluster
from .config import TrainingDiverged, autocast, check_precision, device_name, random_stream
from .progress import ProgressBar

CACHE_KIND = "image_gan"
OPTIMIZERS = ("adam", "rmsprop")


def _check_image_config(config, positive: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the first bad field shared by the image configurations (dataset, architecture, the
    ``positive`` counts, ``n_train``, ``image_size``, ``lr``, ``betas``); normalise ``betas`` to a tuple of floats."""
    kind = type(config).__name__
    if config.dataset not in SPLITS:
        raise ValueError(f"{kind}.dataset must be one of {sorted(SPLITS)}, got {config.dataset!r}")
    if config.architecture not in IMAGE_NETS:
        raise ValueError(f"{kind}.architecture must be one of {sorted(IMAGE_NETS)}, got {config.architecture!r}")
    for name in positive:
        if getattr(config, name) < 1:
            raise ValueError(f"{kind}.{name} must be >= 1, got {getattr(config, name)}")
    for name in ("n_train", "image_size"):
        if getattr(config, name) is not None and getattr(config, name) < 1:
            raise ValueError(f"{kind}.{name} must be >= 1 or None, got {getattr(config, name)}")
    if not (config.lr > 0 and len(config.betas) == 2 and all(0 <= b < 1 for b in config.betas)):
        raise ValueError(f"{kind} needs lr > 0 and betas in [0, 1); got lr={config.lr}, betas={config.betas}")
    object.__setattr__(config, "betas", tuple(float(b) for b in config.betas))
    check_precision(config.precision, f"{kind}.precision")


class InPrecision(nn.Module):
    """``net`` whose forward pass runs in ``precision`` (:func:`lsgan_lib.train.config.autocast`) in training mode and
    returns float32; in eval mode (snapshots) it runs in float32, as the returned networks do."""

    def __init__(self, net: nn.Module, precision: str):
        super().__init__()
        self.net, self.precision = net, precision

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.precision if self.training else "fp32", x.device):
            return self.net(x).float()


def _check_finite(losses: torch.Tensor, start: int, stop: int, config) -> None:
    """Raise :class:`TrainingDiverged` naming the first iteration in ``[start, stop)`` with a non-finite loss (any
    configuration with ``describe()``)."""
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


def _key(config) -> dict:
    """The configuration as its cache key. ``channels_last`` (the convolutions' memory format: faster on a CPU, the
    same arithmetic in another order, so the last bits differ) and ``precision`` enter the key only when not their
    defaults, so that runs cached before the options existed keep their keys."""
    out = dataclasses.asdict(config)
    if out["precision"] == "fp32":
        del out["precision"]
    if not out.pop("channels_last"):
        return out
    return out | {"channels_last": True}


@dataclass(frozen=True)
class ImageGANConfig:
    """Everything that determines an image GAN run (and so its cache key).

    ``n_train`` keeps the first ``n_train`` training images (all when ``None``); ``image_size`` resizes them
    bilinearly (the dataset's own size when ``None``). ``channels_last`` trains in the channels-last memory format
    (see :func:`_key`); ``precision`` ``"bf16"`` runs the networks' training forward passes in bfloat16
    (:class:`InPrecision`). ``architecture`` is a key of :data:`lsgan_lib.models.nets.IMAGE_NETS`
    and ``width`` its base number of channels. ``snapshots`` are the iterations after which ``n_samples`` images
    from fixed latents are stored.
    """

    dataset: str
    architecture: str = "dcgan"
    width: int = 64
    latent_dim: int = 100
    latent: str = "gaussian"
    objective: str = "non_saturating"
    optimizer: str = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    rmsprop_alpha: float = 0.99
    n_critic: int = 1
    n_gen: int = 1
    n_iter: int = 1_000
    batch_size: int = 64
    n_train: int | None = None
    image_size: int | None = None
    critic_norm: str = "batch"
    snapshots: tuple[int, ...] = ()
    n_samples: int = 64
    seed: int = 0
    channels_last: bool = False
    precision: str = "fp32"

    def __post_init__(self):
        _check_image_config(self, ("width", "latent_dim", "n_critic", "n_gen", "n_iter", "batch_size", "n_samples"))
        latent(self.latent), objective(self.objective)  # unknown names raise here
        if self.optimizer not in OPTIMIZERS or self.critic_norm not in CRITIC_NORMS:
            raise ValueError(f"ImageGANConfig needs optimizer in {OPTIMIZERS} and critic_norm in {CRITIC_NORMS}, got "
                             f"{self.optimizer!r} and {self.critic_norm!r}")
        if not 0 <= self.rmsprop_alpha < 1:
            raise ValueError(f"ImageGANConfig needs 0 <= rmsprop_alpha < 1, got {self.rmsprop_alpha}")
        bad = [s for s in self.snapshots if not 0 <= s <= self.n_iter]
        if bad:
            raise ValueError(f"ImageGANConfig.snapshots must lie in [0, n_iter={self.n_iter}], got {bad}")
        object.__setattr__(self, "snapshots", tuple(sorted(set(self.snapshots))))

    def as_dict(self) -> dict:
        return _key(self)

    def describe(self) -> str:
        return (f"{self.dataset}, {self.architecture}×{self.width}, z={self.latent}×{self.latent_dim}, "
                f"objective={self.objective}, seed={self.seed}")


@dataclass
class ImageGANRun:
    """A trained image GAN.

    ``snapshots[i]`` is ``(n_samples, C, H, W)``: images after ``snapshot_iters[i]`` iterations from the same latents
    ``z_eval`` ``(n_samples, latent_dim)`` at every snapshot; ``losses`` is ``(n_iter, 2)``: the critic and generator
    loss of each iteration (the last critic and generator step's). The networks are on the CPU in eval mode.
    """

    config: ImageGANConfig
    generator: nn.Module
    critic: nn.Module
    snapshot_iters: list[int]
    snapshots: torch.Tensor
    z_eval: torch.Tensor
    losses: torch.Tensor
    device: str
    seconds: float
    from_cache: bool = False
    extra: dict = field(default_factory=dict)

    def at(self, iteration: int) -> torch.Tensor:
        """The images ``(n_samples, C, H, W)`` stored at snapshot ``iteration``."""
        return self.snapshots[self.snapshot_iters.index(iteration)]

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` new images ``(n, C, H, W)`` from latents drawn with ``seed`` (eval mode, no gradient)."""
        stream = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            return self.generator(latent(self.config.latent).sample(n, self.config.latent_dim, stream))


def training_images(config: ImageGANConfig | AutoencoderConfig) -> torch.Tensor:
    """The training images of ``config`` ``(N, C, size, size)`` in [−1, 1]: the first ``n_train``, resized."""
    images, _ = load_images(config.dataset, "train", config.n_train)
    if config.image_size is not None and config.image_size != images.shape[-1]:
        images = F.interpolate(images, size=(config.image_size, config.image_size), mode="bilinear",
                               align_corners=False).clamp_(-1, 1)
    return images


def build_image_networks(config: ImageGANConfig, channels: int, size: int) -> tuple[nn.Module, nn.Module]:
    """Generator and critic of ``config``, initialised from ``config.seed`` without touching the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return image_networks(config.architecture, config.latent_dim, channels, size, config.width, config.critic_norm)


def _optimizer(net: nn.Module, config: ImageGANConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(net.parameters(), lr=config.lr, betas=config.betas)
    return torch.optim.RMSprop(net.parameters(), lr=config.lr, alpha=config.rmsprop_alpha)


def _train(config: ImageGANConfig, device: torch.device, bar) -> dict:
    started = time.perf_counter()
    images = training_images(config).to(device)
    shape = tuple(images.shape[1:])
    loss, z = objective(config.objective), latent(config.latent)
    how = traits(loss)
    generator, critic = (net.to(device) for net in build_image_networks(config, shape[0], shape[1]))
    if config.channels_last:
        generator.to(memory_format=torch.channels_last), critic.to(memory_format=torch.channels_last)
    # the objectives see (batch, C·H·W), in float32
    flat_generator = InPrecision(nn.Sequential(generator, nn.Flatten()), config.precision)
    flat_critic = InPrecision(nn.Sequential(nn.Unflatten(1, shape), critic), config.precision)
    opt_g, opt_d = _optimizer(generator, config), _optimizer(critic, config)
    batches = random_stream(config.seed, 0, device)
    z_eval = z.sample(config.n_samples, config.latent_dim, random_stream(config.seed, 1, device))

    def evaluate() -> torch.Tensor:
        generator.eval()
        with torch.no_grad():
            out = generator(z_eval).cpu()
        generator.train()
        return out

    def real_batch() -> torch.Tensor:
        index = torch.randint(images.shape[0], (config.batch_size,), generator=batches, device=device)
        return images[index].flatten(1)

    losses = torch.zeros(config.n_iter, 2, device=device)
    snapshots = [evaluate()] if 0 in config.snapshots else []
    d_loss = torch.zeros((), device=device)
    checked = 0
    for it in range(1, config.n_iter + 1):
        for _ in range(config.n_critic if how.uses_critic else 0):
            real = real_batch()
            with torch.no_grad():
                fake = flat_generator(z.sample(config.batch_size, config.latent_dim, batches))
            mix = (torch.rand((config.batch_size, 1), generator=batches, device=device)
                   if how.gradient_penalty else None)
            d_loss = critic_step(loss, flat_critic, opt_d, real, fake, mix)
        for _ in range(config.n_gen):
            real = None if how.uses_critic else real_batch()
            g_loss = generator_step(loss, flat_generator, flat_critic, opt_g,
                                    z.sample(config.batch_size, config.latent_dim, batches), real)
        losses[it - 1, 0], losses[it - 1, 1] = d_loss, g_loss
        if it % 50 == 0 or it == config.n_iter:
            _check_finite(losses, checked, it, config)
            checked = it
        if it in config.snapshots:
            snapshots.append(evaluate())
        if bar is not None and (it % 10 == 0 or it == config.n_iter):
            bar.update(10 if it % 10 == 0 else it % 10)
    return {
        "generator": {k: v.cpu().contiguous() for k, v in generator.state_dict().items()},
        "critic": {k: v.cpu().contiguous() for k, v in critic.state_dict().items()},
        "snapshot_iters": list(config.snapshots),
        "snapshots": torch.stack(snapshots) if snapshots else torch.zeros(0, config.n_samples, *shape),
        "z_eval": z_eval.cpu(),
        "shape": list(shape),
        "losses": losses.cpu(),
        "device": device_name(device),
        "seconds": time.perf_counter() - started,
    }


def _check_image_gan(config: ImageGANConfig, payload: dict) -> None:
    """The results cache's test that a payload is a usable run of ``config`` (see :func:`lsgan_lib.cache.lookup`)."""
    channels, size, _ = payload["shape"]
    generator, critic = build_image_networks(config, channels, size)
    cache.check_networks(payload, generator=generator, critic=critic)
    cache.check_finite(payload, "snapshots", "z_eval", "losses")


def train_image_gan(config: ImageGANConfig, device: torch.device | str | None = None, progress: bool = True,
                    results_root=None) -> ImageGANRun:
    """Train ``config`` (or load it from the results cache) and return the run with CPU networks in eval mode. Under a
    Dask client (``$LSGAN_SCHEDULER``) it trains on a worker and this process caches it."""
    bar = ProgressBar(config.n_iter, config.describe(), enabled=progress, leave=False)
    try:
        payload, hit = cache.cached(CACHE_KIND, config.as_dict(),
                                    lambda: train_here_or_on_cluster(_train, config, device, bar), results_root,
                                    check=lambda p: _check_image_gan(config, p))
    finally:
        bar.close()
    channels, size, _ = payload["shape"]
    generator, critic = build_image_networks(config, channels, size)
    generator.load_state_dict(payload["generator"]), critic.load_state_dict(payload["critic"])
    generator.eval(), critic.eval()
    return ImageGANRun(config=config, generator=generator, critic=critic, snapshot_iters=payload["snapshot_iters"],
                       snapshots=payload["snapshots"], z_eval=payload["z_eval"], losses=payload["losses"],
                       device=payload["device"], seconds=float(payload["seconds"]), from_cache=hit)


# ---------------------------------------------------------------------------------------------------------------------
# The autoencoder of the latent-space paper (004): encoder = the critic's body with a dim(z) output, decoder = the
# generator; trained on the mean squared error (Eq. 3) with Adam's default hyperparameters, cached like the GANs.
# ---------------------------------------------------------------------------------------------------------------------

AUTOENCODER_CACHE_KIND = "autoencoder"


@dataclass(frozen=True)
class AutoencoderConfig:
    """Everything that determines an autoencoder run (and so its cache key). The fields mean what they mean in
    :class:`ImageGANConfig` (``precision`` ``"bf16"``: the forward pass in bfloat16, the MSE in float32); the optimizer
    is Adam with ``lr`` and ``betas`` (PyTorch's defaults: the paper's)."""

    dataset: str
    architecture: str = "resize_conv"
    width: int = 64
    latent_dim: int = 100
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    n_iter: int = 1_000
    batch_size: int = 64
    n_train: int | None = None
    image_size: int | None = None
    seed: int = 0
    channels_last: bool = False
    precision: str = "fp32"

    def __post_init__(self):
        _check_image_config(self, ("width", "latent_dim", "n_iter", "batch_size"))

    def as_dict(self) -> dict:
        return _key(self)

    def describe(self) -> str:
        return f"AE {self.dataset}, {self.architecture}×{self.width}, dim(z)={self.latent_dim}, seed={self.seed}"


@dataclass
class AutoencoderRun:
    """A trained autoencoder: ``encoder`` ``(batch, C, H, W) → (batch, latent_dim)``, ``decoder``
    ``(batch, latent_dim) → (batch, C, H, W)`` (CPU, eval mode); ``losses`` ``(n_iter,)``: the training MSE."""

    config: AutoencoderConfig
    encoder: nn.Module
    decoder: nn.Module
    losses: torch.Tensor
    device: str
    seconds: float
    from_cache: bool = False

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, chunk: int = 512) -> torch.Tensor:
        """d(e(x)) for images ``(n, C, H, W)``, in eval mode: ``(n, C, H, W)``."""
        return torch.cat([self.decoder(self.encoder(part)) for part in images.split(chunk)])


def build_autoencoder(config: AutoencoderConfig, channels: int, size: int) -> tuple[nn.Module, nn.Module]:
    """Encoder (the critic of ``config.architecture`` with its last dense layer replaced by one to ``latent_dim``
    outputs, no normalisation) and decoder (its generator), initialised from ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        decoder, encoder = image_networks(config.architecture, config.latent_dim, channels, size, config.width, "none")
        last = max(i for i, m in enumerate(encoder) if isinstance(m, nn.Linear))
        head = nn.Linear(encoder[last].in_features, config.latent_dim)
        nn.init.xavier_uniform_(head.weight), nn.init.zeros_(head.bias)
        encoder[last] = head
    return encoder, decoder


def _train_autoencoder(config: AutoencoderConfig, device: torch.device, bar) -> dict:
    started = time.perf_counter()
    images = training_images(config).to(device)
    shape = tuple(images.shape[1:])
    encoder, decoder = (net.to(device) for net in build_autoencoder(config, shape[0], shape[1]))
    if config.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
        encoder.to(memory_format=torch.channels_last), decoder.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=config.lr, betas=config.betas)
    batches = random_stream(config.seed, 0, device)
    losses = torch.zeros(config.n_iter, device=device)
    for it in range(1, config.n_iter + 1):
        x = images[torch.randint(images.shape[0], (config.batch_size,), generator=batches, device=device)]
        with autocast(config.precision, device):
            reconstruction = decoder(encoder(x))
        loss = (reconstruction.float() - x).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses[it - 1] = loss.detach()
        if it % 50 == 0 or it == config.n_iter:
            if not bool(torch.isfinite(losses[:it]).all()):
                raise TrainingDiverged(f"autoencoder training diverged: the MSE became non-finite by iteration {it} "
                                       f"({config.describe()}). Lower lr or change the seed; nothing was cached.")
        if bar is not None and (it % 10 == 0 or it == config.n_iter):
            bar.update(10 if it % 10 == 0 else it % 10)
    return {"encoder": {k: v.cpu().contiguous() for k, v in encoder.state_dict().items()},
            "decoder": {k: v.cpu().contiguous() for k, v in decoder.state_dict().items()},
            "shape": list(shape), "losses": losses.cpu(), "device": device_name(device),
            "seconds": time.perf_counter() - started}


def _check_autoencoder(config: AutoencoderConfig, payload: dict) -> None:
    """The results cache's test that a payload is a usable autoencoder of ``config``."""
    channels, size, _ = payload["shape"]
    encoder, decoder = build_autoencoder(config, channels, size)
    cache.check_networks(payload, encoder=encoder, decoder=decoder)
    cache.check_finite(payload, "losses")


def train_autoencoder(config: AutoencoderConfig, device: torch.device | str | None = None, progress: bool = True,
                      results_root=None) -> AutoencoderRun:
    """Train ``config`` (or load it from the results cache); the returned networks are on the CPU in eval mode. Under a
    Dask client (``$LSGAN_SCHEDULER``) it trains on a worker and this process caches it."""
    bar = ProgressBar(config.n_iter, config.describe(), enabled=progress, leave=False)
    try:
        payload, hit = cache.cached(AUTOENCODER_CACHE_KIND, config.as_dict(),
                                    lambda: train_here_or_on_cluster(_train_autoencoder, config, device, bar),
                                    results_root, check=lambda p: _check_autoencoder(config, p))
    finally:
        bar.close()
    channels, size, _ = payload["shape"]
    encoder, decoder = build_autoencoder(config, channels, size)
    encoder.load_state_dict(payload["encoder"]), decoder.load_state_dict(payload["decoder"])
    encoder.eval(), decoder.eval()
    return AutoencoderRun(config=config, encoder=encoder, decoder=decoder, losses=payload["losses"],
                          device=payload["device"], seconds=float(payload["seconds"]), from_cache=hit)


def train_image_runs(configs: list[ImageGANConfig | AutoencoderConfig], device: torch.device | str | None = None,
                     progress: bool = True, results_root=None) -> list[ImageGANRun | AutoencoderRun]:
    """Train (or load) a chapter's independent image runs — GANs and autoencoders — and return them in order: one after
    another here, or, under a Dask client (``$LSGAN_SCHEDULER``, :mod:`lsgan_lib.book.sweep`), all at once, each a task
    on a worker, this process writing the results cache."""
    trainers = {ImageGANConfig: train_image_gan, AutoencoderConfig: train_autoencoder}
    unknown = [type(c).__name__ for c in configs if type(c) not in trainers]
    if unknown:
        raise TypeError(f"train_image_runs takes ImageGANConfig and AutoencoderConfig, got {', '.join(unknown)}")

    def run(config):
        return trainers[type(config)](config, device, progress, results_root)

    return map_here_or_on_cluster(run, configs)
