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
from torch.nn import functional as F

from . import cache
from .datasets import load_images
from .image_training import AutoencoderConfig, ImageGANConfig
from .inversion import Inversion, invert, reconstruction_error

# The paper's WGAN-GP (Gulrajani et al.'s settings, Table 1's nets): Adam 1e-4, β = (0, 0.9), 5 critic steps, λ = 10.
WGAN_GP_LR = 1e-4
WGAN_GP_BETAS = (0.0, 0.9)
ARCHITECTURE = "resize_conv"
INVERSION_CACHE_KIND = "inversion"


def gan_config(dataset: str, latent_dim: int, width: int, image_size: int, n_iter: int, batch_size: int,
               n_train: int | None, n_critic: int = 5, seed: int = 0, snapshots: tuple[int, ...] = (),
               n_samples: int = 64) -> ImageGANConfig:
    """The paper's WGAN-GP on ``dataset`` with Table 1's nets at ``width`` (see :func:`lsgan_lib.nets.resize_conv_generator`)."""
    return ImageGANConfig(dataset=dataset, architecture=ARCHITECTURE, width=width, latent_dim=latent_dim,
                          objective="wgan_gp", optimizer="adam", lr=WGAN_GP_LR, betas=WGAN_GP_BETAS, n_critic=n_critic,
                          n_iter=n_iter, batch_size=batch_size, n_train=n_train, image_size=image_size,
                          critic_norm="none", snapshots=tuple(snapshots), n_samples=n_samples, seed=seed)


def ae_config(dataset: str, latent_dim: int, width: int, image_size: int, n_iter: int, batch_size: int,
              n_train: int | None, seed: int = 0) -> AutoencoderConfig:
    """The paper's autoencoder (Adam defaults, MSE) with the same nets as :func:`gan_config`."""
    return AutoencoderConfig(dataset=dataset, architecture=ARCHITECTURE, width=width, latent_dim=latent_dim,
                             n_iter=n_iter, batch_size=batch_size, n_train=n_train, image_size=image_size, seed=seed)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images ``(n, C, H, W)`` resized bilinearly to ``size``×``size`` (unchanged if already that size), in [−1, 1]."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp_(-1, 1)


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


def layer_weights(net: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The weights of every dense and convolutional layer of ``net``, flattened, in order: ``[(name, (k,)), …]``
    (the paper's Fig. 1 histograms)."""
    return [(f"layer {i + 1} ({type(m).__name__})", m.weight.detach().flatten().cpu())
            for i, m in enumerate(x for x in net.modules() if isinstance(x, (nn.Conv2d, nn.Linear)))]


def cached_inversion(model_key: dict, what: str, generator: nn.Module, images: torch.Tensor, latent_dim: int,
                     steps: int, lr: float, project: bool = True, amp: bool = False, channels_last: bool = False,
                     device: torch.device | str | None = None) -> Inversion:
    """:func:`lsgan_lib.inversion.invert` of ``images``, cached under the generator's configuration ``model_key``,
    the name ``what`` of the image set (it must say how the images were made, e.g. ``"celeba train 0:64"``), their
    shape, and the inversion settings. ``seconds`` is that of the run that computed it."""
    key = {"model": model_key, "images": what, "shape": list(images.shape),
           "checksum": round(float(images.double().sum()), 4), "steps": steps, "lr": lr, "project": project,
           "amp": amp, "channels_last": channels_last}

    def compute() -> dict:
        generator.to(device or "cpu")
        try:
            result = invert(generator, images, latent_dim, steps=steps, lr=lr, project=project, amp=amp,
                            channels_last=channels_last, device=device)
        finally:
            generator.cpu()
        return {"z": result.z, "reconstructions": result.reconstructions, "errors": result.errors,
                "seconds": result.seconds}

    payload, _ = cache.cached(INVERSION_CACHE_KIND, key, compute)
    return Inversion(z=payload["z"], reconstructions=payload["reconstructions"], errors=payload["errors"],
                     steps=steps, projected=project, seconds=float(payload["seconds"]))


def autoencoder_errors(run, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The autoencoder's reconstructions ``(n, C, H, W)`` of ``images`` and their per-image MSE ``(n,)``."""
    reconstructions = run.reconstruct(images)
    return reconstructions, reconstruction_error(reconstructions, images)


def timed(function, *args, **kwargs):
    """``(function(*args, **kwargs), seconds)``."""
    started = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - started


FEATURE_CACHE_KIND = "feature_net"
FEATURE_SIZE = 32  # the substitute feature network reads 32×32 images


def substitute_feature_network(n_train: int, steps: int, seed: int = 0) -> tuple[nn.Module, float, dict]:
    """The Fréchet-distance substitute for FID when Inception-v3's weights are not available: a LeNet-5 trained here
    on the first ``n_train`` CIFAR-10 training images (32×32, labels) for ``steps`` Adam steps, cached.

    Returns the feature extractor (the 84 features of its F6 layer, ``(n, 3, 32, 32) → (n, 84)``), its accuracy on the
    first 2,000 CIFAR-10 test images, and the cache key."""
    from .metrics import accuracy, train_classifier
    from .nets import lenet5

    key = {"network": "lenet5", "dataset": "cifar10", "n_train": n_train, "steps": steps, "seed": seed,
           "batch_size": 128, "lr": 1e-3}

    def compute() -> dict:
        images, labels = load_images("cifar10", "train", n_train)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = lenet5(3, 10)
        net = train_classifier(net, images, labels, steps, batch_size=128, lr=1e-3, seed=seed)
        test_images, test_labels = load_images("cifar10", "test", 2000)
        return {"state": net.state_dict(), "accuracy": accuracy(net, test_images, test_labels)}

    payload, _ = cache.cached(FEATURE_CACHE_KIND, key, compute)
    net = lenet5(3, 10)
    net.load_state_dict(payload["state"])
    return net[:-1].eval(), float(payload["accuracy"]), key


def feature_distance(network: nn.Module, images_a: torch.Tensor, images_b: torch.Tensor, size: int | None) -> float:
    """The Fréchet distance between two image sets ``(n, C, H, W)`` under ``network`` (images resized to ``size``;
    grey images repeated to three channels)."""
    from .metrics import frechet_distance, network_features

    def three(images):
        return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    return frechet_distance(network_features(network, three(images_a), size),
                            network_features(network, three(images_b), size))


def excess_kurtosis(values: torch.Tensor) -> float:
    """E[(x − μ)⁴]/σ⁴ − 3 of a flat tensor: 0 for a Gaussian, −1.2 for a uniform (Glorot's initialisation)."""
    x = values.double().flatten()
    centred = x - x.mean()
    return float(centred.pow(4).mean() / centred.pow(2).mean().pow(2) - 3)


def mnist_classifier_accuracy(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
                              test_labels: torch.Tensor, steps: int, seed: int = 0) -> float:
    """The paper's Fig. 9 test: a LeNet-5 trained on ``train_images`` ``(n, 1, H, W)`` (real MNIST or a GAN's
    reconstructions of it; resized to 32×32) with the real labels, its accuracy on the real test images."""
    from .metrics import accuracy, train_classifier
    from .nets import lenet5

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = lenet5(1, 10)
    net = train_classifier(net, resize(train_images, 32), train_labels, steps, batch_size=64, lr=1e-3, seed=seed)
    return accuracy(net, resize(test_images, 32), test_labels)
