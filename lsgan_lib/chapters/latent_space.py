"""The latent-space chapter's experiments (paper 004), as small functions the notebook calls.

Every trained model and every inversion is cached (``results/image_gan``, ``results/autoencoder``,
``results/inversion``), keyed by its full configuration, so the chapter can be run one latent size at a time (for
example one 10-minute GPU call per ``latent_dims=[…]``) and the pieces are reused when it runs with all of them.

Shapes: images ``(n, C, H, W)`` in [−1, 1]; latents ``(n, latent_dim)``.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from .. import cache
from ..data.images import load_images
from ..train.images import AutoencoderConfig, ImageGANConfig
from ..measure.features import resize
from ..measure.inversion import Inversion, invert, reconstruction_error

# The paper's WGAN-GP (Gulrajani et al.'s settings, Table 1's nets): Adam 1e-4, β = (0, 0.9), 5 critic steps, λ = 10.
WGAN_GP_LR = 1e-4
WGAN_GP_BETAS = (0.0, 0.9)
ARCHITECTURE = "resize_conv"
INVERSION_CACHE_KIND = "inversion"


def gan_config(dataset: str, latent_dim: int, width: int, image_size: int, n_iter: int, batch_size: int,
               n_train: int | None, n_critic: int = 5, seed: int = 0, snapshots: tuple[int, ...] = (),
               n_samples: int = 64, channels_last: bool = False, precision: str = "fp32") -> ImageGANConfig:
    """The paper's WGAN-GP on ``dataset`` with Table 1's nets at ``width`` (see
    :func:`lsgan_lib.models.nets.resize_conv_generator`); ``channels_last`` trains in that memory format (faster on a
    CPU; see bench/image_training.py), ``precision`` in that arithmetic (:data:`lsgan_lib.train.config.PRECISIONS`)."""
    return ImageGANConfig(dataset=dataset, architecture=ARCHITECTURE, width=width, latent_dim=latent_dim,
                          objective="wgan_gp", optimizer="adam", lr=WGAN_GP_LR, betas=WGAN_GP_BETAS, n_critic=n_critic,
                          n_iter=n_iter, batch_size=batch_size, n_train=n_train, image_size=image_size,
                          critic_norm="none", snapshots=tuple(snapshots), n_samples=n_samples, seed=seed,
                          channels_last=channels_last, precision=precision)


def ae_config(dataset: str, latent_dim: int, width: int, image_size: int, n_iter: int, batch_size: int,
              n_train: int | None, seed: int = 0, channels_last: bool = False, precision: str = "fp32"
              ) -> AutoencoderConfig:
    """The paper's autoencoder (Adam defaults, MSE) with the same nets as :func:`gan_config`."""
    return AutoencoderConfig(dataset=dataset, architecture=ARCHITECTURE, width=width, latent_dim=latent_dim,
                             n_iter=n_iter, batch_size=batch_size, n_train=n_train, image_size=image_size, seed=seed,
                             channels_last=channels_last, precision=precision)


def evaluation_images(dataset: str, split: str, n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images of ``split`` resized to ``size`` ``(n, C, size, size)``, and their labels ``(n,)``."""
    images, labels = load_images(dataset, split, n)
    return resize(images, size), labels


def translate(images: torch.Tensor, shift: int) -> torch.Tensor:
    """Images ``(n, C, H, W)`` moved ``shift`` pixels to the right (negative: left); the uncovered columns repeat the
    edge column. ``shift = 0`` returns the images unchanged."""
    if abs(shift) >= images.shape[-1]:
        raise ValueError(f"translate: |shift| must be smaller than the width {images.shape[-1]}, got {shift}")
    if shift == 0:
        return images.clone()
    if shift > 0:
        return torch.cat([images[..., :1].expand(*images.shape[:-1], shift), images[..., :-shift]], dim=-1)
    return torch.cat([images[..., -shift:], images[..., -1:].expand(*images.shape[:-1], -shift)], dim=-1)


def uniform_noise_images(n: int, shape: tuple[int, int, int], seed: int) -> torch.Tensor:
    """``n`` images of i.i.d. U(−1, 1) pixels ``(n, *shape)`` (the paper's Fig. 8), drawn from ``seed``."""
    return torch.rand((n, *shape), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def prior_norms(latent_dim: int, n: int, seed: int) -> torch.Tensor:
    """‖z‖ of ``n`` draws z ~ N(0, I_dim) ``(n,)``: the prior's norm distribution (a χ with dim(z) d.o.f.)."""
    return torch.randn((n, latent_dim), generator=torch.Generator().manual_seed(seed)).norm(dim=1)


def prior_norm_range(norms: torch.Tensor, mass: float = 0.99) -> tuple[float, float]:
    """The central ``mass`` of the prior's norm distribution, from draws ``norms`` ``(n,)`` (see :func:`prior_norms`):
    its ``(1 − mass)/2`` and ``(1 + mass)/2`` quantiles."""
    if not 0 < mass < 1:
        raise ValueError(f"prior_norm_range needs 0 < mass < 1, got {mass}")
    return float(norms.quantile((1 - mass) / 2)), float(norms.quantile((1 + mass) / 2))


def in_prior_norm_range(z: torch.Tensor, norm_range: tuple[float, float]) -> torch.Tensor:
    """Fig. 10's two-sided overlap, per latent: 1.0 where ‖z‖ of a row of ``z`` ``(n, dim)`` lies inside
    ``norm_range`` (:func:`prior_norm_range`), else 0.0: ``(n,)``. Its mean is the share of found latents the prior
    could have drawn, by norm; a latent too close to the origin counts as outside, as one too far does."""
    norms = z.norm(dim=1)
    return ((norms >= norm_range[0]) & (norms <= norm_range[1])).float()


def layer_weights(net: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The weights of every dense and convolutional layer of ``net``, flattened, in order: ``[(name, (k,)), …]``
    (the paper's Fig. 1 histograms)."""
    return [(f"layer {i + 1} ({type(m).__name__})", m.weight.detach().flatten().cpu())
            for i, m in enumerate(x for x in net.modules() if isinstance(x, (nn.Conv2d, nn.Linear)))]


# Fig. 1's gate: every layer's weights moved by at least their initial norm. Were the change Gaussian, a layer
# W = W₀ + Δ with ‖Δ‖ = ‖W₀‖ and W₀ Glorot-uniform (excess kurtosis −1.2) would read −1.2 / (1 + 1)² = −0.3, inside
# the claim's |excess kurtosis| ≤ 0.5; at ‖Δ‖ = 0.5‖W₀‖ it would read −0.77, outside. Below 1 the initialisation
# still decides the shape whatever training did, so the claim cannot be judged; above, both outcomes can show.
WEIGHTS_MOVED = 1.0


def weight_displacement(trained: nn.Module, initial: nn.Module) -> list[tuple[str, float]]:
    """How far each dense and convolutional layer's weights moved in training: ‖W − W₀‖ / ‖W₀‖ (Frobenius norms) of
    the same layer of ``trained`` and ``initial`` (the same architecture), in :func:`layer_weights`' order:
    ``[(name, ratio), …]``. 0 for an untouched layer; 1 when the change is as large as the initial weights."""
    layers, layers0 = layer_weights(trained), layer_weights(initial)
    if len(layers) != len(layers0):
        raise ValueError(f"weight_displacement: {len(layers)} layers vs {len(layers0)}")
    out = []
    for (name, w), (_, w0) in zip(layers, layers0):
        if w.shape != w0.shape:
            raise ValueError(f"weight_displacement: {name} has shape {tuple(w.shape)} vs {tuple(w0.shape)}")
        out.append((name, float((w.double() - w0.double()).norm() / w0.double().norm().clamp_min(1e-300))))
    return out


def cached_inversion(model_key: dict, what: str, generator: nn.Module, images: torch.Tensor, latent_dim: int,
                     steps: int, lr: float, project: bool = True, amp: bool = False, channels_last: bool = False,
                     device: torch.device | str | None = None) -> Inversion:
    """:func:`lsgan_lib.measure.inversion.invert` of ``images``, cached under the generator's configuration
    ``model_key``, the name ``what`` of the image set (it must say how the images were made, e.g.
    ``"celeba train 0:64"``), their shape, and the inversion settings. ``seconds`` is that of the run that computed it;
    ``outside_ball`` (the projection's activity, issue 29) is recorded, so entries cached before it existed are not
    reused."""
    key = {"model": model_key, "images": what, "shape": list(images.shape),
           "checksum": round(float(images.double().sum()), 4), "steps": steps, "lr": lr, "project": project,
           "amp": amp, "channels_last": channels_last, "records": ["outside_ball"]}

    def compute() -> dict:
        generator.to(device or "cpu")
        try:
            result = invert(generator, images, latent_dim, steps=steps, lr=lr, project=project, amp=amp,
                            channels_last=channels_last, device=device)
        finally:
            generator.cpu()
        return {"z": result.z, "reconstructions": result.reconstructions, "errors": result.errors,
                "seconds": result.seconds, "outside_ball": result.outside_ball}

    payload, _ = cache.cached(INVERSION_CACHE_KIND, key, compute)
    return Inversion(z=payload["z"], reconstructions=payload["reconstructions"], errors=payload["errors"],
                     steps=steps, projected=project, seconds=float(payload["seconds"]),
                     outside_ball=payload["outside_ball"])


def autoencoder_errors(run, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The autoencoder's reconstructions ``(n, C, H, W)`` of ``images`` and their per-image MSE ``(n,)``."""
    reconstructions = run.reconstruct(images)
    return reconstructions, reconstruction_error(reconstructions, images)


def timed(function, *args, **kwargs):
    """``(function(*args, **kwargs), seconds)``."""
    started = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - started


def mean_image_errors(train_images: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per-image MSE ``(n,)`` of predicting every image ``(n, C, H, W)`` by the per-pixel mean of ``train_images``
    ``(N, C, H, W)``: the baseline a trained autoencoder must beat by far (the AE gate)."""
    return reconstruction_error(train_images.mean(dim=0, keepdim=True).expand_as(images), images)


def untrained_generator(config: ImageGANConfig, channels: int) -> nn.Module:
    """The generator of ``config`` at initialisation (same seed, no training step), eval mode: the untrained
    control of every claim about the trained generator."""
    from ..train.images import build_image_networks

    generator, _ = build_image_networks(config, channels, config.image_size)
    return generator.eval()


def untrained_autoencoder(config: AutoencoderConfig, channels: int):
    """The autoencoder of ``config`` at initialisation, as an :class:`~lsgan_lib.train.images.AutoencoderRun` with
    no losses (eval mode): the untrained control of the AE's claims."""
    from ..train.images import AutoencoderRun, build_autoencoder

    encoder, decoder = build_autoencoder(config, channels, config.image_size)
    return AutoencoderRun(config=config, encoder=encoder.eval(), decoder=decoder.eval(), losses=torch.zeros(0),
                          device="none (untrained)", seconds=0.0)


def untrained_key(config) -> dict:
    """The cache key of ``config``'s networks at initialisation (for inversions through them)."""
    return {"untrained": True, **config.as_dict()}


@torch.no_grad()
def other_identity(reconstructions: torch.Tensor, targets: torch.Tensor, train_images: torch.Tensor,
                   target_index: torch.Tensor, features: nn.Module | None = None, size: int | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fig. 5's "the reconstructions are other people", measured. For each reconstruction ``(n, C, H, W)`` of a
    training image ``targets`` ``(n, C, H, W)`` (= ``train_images[target_index]``, ``target_index`` ``(n,)``): the
    distance to its own target and to the nearest *other* training image of ``train_images`` ``(N, C, H, W)``
    (pixel MSE, or squared feature distance under ``features`` when given). Returns both ``(n,)``; a reconstruction
    closer to another training image than to its target shows "another person" (the target itself is the identity
    proxy: the offline CelebA copy has no identity labels)."""
    from ..measure.metrics import network_features

    def embed(images):
        if features is None:
            return images.flatten(1).double()
        three = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        return network_features(features, three, size).double()

    rec, train = embed(reconstructions), embed(train_images)
    per_dim = rec.shape[1]
    distances = torch.cdist(rec, train).pow(2) / per_dim  # (n, N)
    own = distances.gather(1, target_index.view(-1, 1)).squeeze(1)
    distances.scatter_(1, target_index.view(-1, 1), float("inf"))
    return own.float(), distances.min(dim=1).values.float()


