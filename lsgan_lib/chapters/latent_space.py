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

from .. import cache
from ..data.images import load_images
from ..train.images import AutoencoderConfig, ImageGANConfig
from ..measure.inversion import Inversion, invert, reconstruction_error

# The paper's WGAN-GP (Gulrajani et al.'s settings, Table 1's nets): Adam 1e-4, β = (0, 0.9), 5 critic steps, λ = 10.
WGAN_GP_LR = 1e-4
WGAN_GP_BETAS = (0.0, 0.9)
ARCHITECTURE = "resize_conv"
INVERSION_CACHE_KIND = "inversion"


def gan_config(dataset: str, latent_dim: int, width: int, image_size: int, n_iter: int, batch_size: int,
               n_train: int | None, n_critic: int = 5, seed: int = 0, snapshots: tuple[int, ...] = (),
               n_samples: int = 64, channels_last: bool = False, precision: str = "fp32") -> ImageGANConfig:
    """The paper's WGAN-GP on ``dataset`` with Table 1's nets at ``width`` (see :func:`lsgan_lib.models.nets.resize_conv_generator`);
    ``channels_last`` trains in that memory format (faster on a CPU; see bench/image_training.py), ``precision`` in
    that arithmetic (:data:`lsgan_lib.train.config.PRECISIONS`)."""
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
    """:func:`lsgan_lib.measure.inversion.invert` of ``images``, cached under the generator's configuration ``model_key``,
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
    from ..measure.metrics import accuracy, train_classifier
    from ..models.nets import lenet5

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
    from ..measure.metrics import frechet_distance, network_features

    def three(images):
        return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    return frechet_distance(network_features(network, three(images_a), size),
                            network_features(network, three(images_b), size))


def excess_kurtosis(values: torch.Tensor) -> float:
    """E[(x − μ)⁴]/σ⁴ − 3 of a flat tensor: 0 for a Gaussian, −1.2 for a uniform (Glorot's initialisation)."""
    x = values.double().flatten()
    centred = x - x.mean()
    return float(centred.pow(4).mean() / centred.pow(2).mean().pow(2) - 3)



def mnist_classifier(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
                     test_labels: torch.Tensor, steps: int, seed: int = 0) -> tuple[nn.Module, float]:
    """The chapter's MNIST classifier: a LeNet-5 trained on ``train_images`` ``(n, 1, H, W)`` (resized to 32×32) with
    ``train_labels`` ``(n,)``; returns it (eval mode, it reads 32×32 images) and its accuracy on the test images."""
    from ..measure.metrics import accuracy, train_classifier
    from ..models.nets import lenet5

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = lenet5(1, 10)
    net = train_classifier(net, resize(train_images, 32), train_labels, steps, batch_size=64, lr=1e-3, seed=seed)
    return net, accuracy(net, resize(test_images, 32), test_labels)


@torch.no_grad()
def classifier_confidence(classifier: nn.Module, images: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """The classifier's largest softmax probability for each image ``(n, 1, H, W)`` (resized to 32×32): ``(n,)``.
    The MNIST gate: a generator whose samples the classifier recognises as digits gives values near 1."""
    classifier.eval()
    return torch.cat([F.softmax(classifier(resize(part.float(), 32)), dim=1).max(dim=1).values
                      for part in images.split(chunk)])


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


FEATURE_NETS = ("lenet", "inception")


def feature_network(choice: str, feature_train: int, feature_steps: int, seed: int = 0
                    ) -> tuple[nn.Module, int | None, str, str]:
    """The network of the chapter's Fréchet distance: ``"lenet"`` — the substitute LeNet-5 of
    :func:`substitute_feature_network` (labelled "FD-LeNet (not FID)"); ``"inception"`` — pytorch-fid's Inception-v3,
    i.e. FID, only when its package and weights are on this machine (nothing is downloaded): otherwise a clear error.
    Returns ``(network, input size or None, metric name, note)``."""
    from ..measure.metrics import INCEPTION_WEIGHTS, standard_fid_network

    if choice not in FEATURE_NETS:
        raise ValueError(f"feature_net must be one of {FEATURE_NETS}, got {choice!r}")
    if choice == "inception":
        net = standard_fid_network()
        if net is None:
            raise RuntimeError(
                "feature_net='inception' needs pytorch-fid and its Inception-v3 weights on this machine, and they are "
                f"absent (nothing is downloaded here). Install pytorch-fid and put {INCEPTION_WEIGHTS} into "
                f"{torch.hub.get_dir()}/checkpoints/, or run with feature_net='lenet' (the labelled substitute).")
        return net, None, "FID (Inception-v3)", "the standard Inception-v3 FID network (pytorch-fid weights found locally)"
    net, acc, _ = substitute_feature_network(feature_train, feature_steps, seed)
    return net, FEATURE_SIZE, "FD-LeNet (not FID)", (
        f"Fréchet distance on the 84 features of a LeNet-5 trained here on {feature_train:,} CIFAR-10 images "
        f"({feature_steps} steps; {100 * acc:.1f}% test accuracy) — not FID: Inception-v3's weights cannot be "
        "downloaded here")


@torch.no_grad()
def digits_covered(classifier: nn.Module, images: torch.Tensor, min_share: float = 0.02) -> int:
    """How many of the classifier's classes receive at least ``min_share`` of the arg-max predictions on ``images``
    ``(n, 1, H, W)``: 10 for real MNIST; about 1 for an untrained generator, whose samples all look alike (the second
    MNIST gate: the mean confidence alone is high for an untrained generator's blobs too)."""
    classifier.eval()
    predicted = torch.cat([classifier(resize(part.float(), 32)).argmax(dim=1) for part in images.split(1024)])
    n_classes = classifier(resize(images[:1].float(), 32)).shape[1]
    shares = torch.bincount(predicted, minlength=n_classes).float() / predicted.numel()
    return int((shares >= min_share).sum())
