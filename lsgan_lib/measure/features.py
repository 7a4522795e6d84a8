"""Image features and what is measured with them: the feature networks of the book's Fréchet distances (a LeNet-5
trained on CIFAR-10 as the substitute for Inception-v3, a fixed random conv net, an MNIST classifier's penultimate
layer), the MNIST classifiers that count and recognise generated digits, and the image gate — the Fréchet distance of a
trained generator's samples against the same generator at initialisation (:func:`fd_ratio`, one ratio for every
chapter).

Shapes: images ``(n, C, H, W)`` in [−1, 1]; features ``(n, k)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .. import cache
from ..data.images import load_images
from ..models.nets import lenet5
from ..train.toy import default_device
from .metrics import (INCEPTION_WEIGHTS, accuracy, frechet_distance, network_features, standard_fid_network,
                      train_classifier)


def fd_ratio(trained: float, untrained: float) -> float:
    """The image gate's number: a trained generator's Fréchet distance to the data divided by that of the same
    generator at initialisation (``inf`` when the untrained distance is 0). 1 for a generator that did not learn."""
    return trained / untrained if untrained > 0 else math.inf


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images ``(n, C, H, W)`` resized bilinearly to ``size``×``size`` (unchanged if already that size), in [−1, 1]."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp_(-1, 1)


FEATURE_CACHE_KIND = "feature_net"


FEATURE_SIZE = 32  # the substitute feature network reads 32×32 images


def substitute_feature_network(n_train: int, steps: int, seed: int = 0) -> tuple[nn.Module, float, dict]:
    """The Fréchet-distance substitute for FID when Inception-v3's weights are not available: a LeNet-5 trained here
    on the first ``n_train`` CIFAR-10 training images (32×32, labels) for ``steps`` Adam steps, cached.

    Returns the feature extractor (the 84 features of its F6 layer, ``(n, 3, 32, 32) → (n, 84)``), its accuracy on the
    first 2,000 CIFAR-10 test images, and the cache key."""

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

    def three(images):
        return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    return frechet_distance(network_features(network, three(images_a), size),
                            network_features(network, three(images_b), size))


def lenet5_mnist_classifier(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
                     test_labels: torch.Tensor, steps: int, seed: int = 0) -> tuple[nn.Module, float]:
    """The chapter's MNIST classifier: a LeNet-5 trained on ``train_images`` ``(n, 1, H, W)`` (resized to 32×32) with
    ``train_labels`` ``(n,)``; returns it (eval mode, it reads 32×32 images) and its accuracy on the test images."""

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


FEATURE_NETS = ("lenet", "inception")


def feature_network(choice: str, feature_train: int, feature_steps: int, seed: int = 0
                    ) -> tuple[nn.Module, int | None, str, str]:
    """The network of the chapter's Fréchet distance: ``"lenet"`` — the substitute LeNet-5 of
    :func:`substitute_feature_network` (labelled "FD-LeNet (not FID)"); ``"inception"`` — pytorch-fid's Inception-v3,
    i.e. FID, only when its package and weights are on this machine (nothing is downloaded): otherwise a clear error.
    Returns ``(network, input size or None, metric name, note)``."""

    if choice not in FEATURE_NETS:
        raise ValueError(f"feature_net must be one of {FEATURE_NETS}, got {choice!r}")
    if choice == "inception":
        net = standard_fid_network()
        if net is None:
            raise RuntimeError(
                "feature_net='inception' needs pytorch-fid and its Inception-v3 weights on this machine, and they are "
                f"absent (nothing is downloaded here). Install pytorch-fid and put {INCEPTION_WEIGHTS} into "
                f"{torch.hub.get_dir()}/checkpoints/, or run with feature_net='lenet' (the labelled substitute).")
        return (net, None, "FID (Inception-v3)",
                "the standard Inception-v3 FID network (pytorch-fid weights found locally)")
    net, acc, _ = substitute_feature_network(feature_train, feature_steps, seed)
    return net, FEATURE_SIZE, "FD-LeNet (not FID)", (
        f"Fréchet distance on the 84 features of a LeNet-5 trained here on {feature_train:,} CIFAR-10 images "
        f"({feature_steps} steps; {100 * acc:.1f}% test accuracy) — not FID: Inception-v3's weights cannot be "
        "downloaded here")


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
    ``n_test`` test images. A missing MNIST raises :class:`lsgan_lib.data.images.DatasetMissing`."""

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


@torch.no_grad()
def classifier_features(classifier: nn.Sequential, images: torch.Tensor, chunk: int = 1000) -> torch.Tensor:
    """The MNIST classifier's penultimate features ``(n, 128)`` of images ``(n, 1, 28, 28)`` in [−1, 1]: the feature
    net of the chapter's Fréchet distance on MNIST."""
    body = classifier[:-1].eval()
    device = next(classifier.parameters()).device
    return torch.cat([body(part.to(device)).cpu() for part in images.split(chunk)])


def random_feature_net(channels: int, seed: int = 0) -> nn.Sequential:
    """A fixed, randomly initialised conv net ``(batch, channels, H, W) → (batch, 128)`` (three stride-2 convolutions
    with ReLU, global average pooling, a linear map): the chapter's feature net for CelebA, where no trained feature
    net is available offline. Random features are a weaker measure than Inception's but still separate noise from
    images; the same ``seed`` gives the same net."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                             nn.Conv2d(64, 128, 4, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(128, 128)).eval()


@torch.no_grad()
def image_gate(run, features, real: torch.Tensor, n: int, seed: int = 1, chunk: int = 500) -> dict:
    """The image gate of an image GAN run (:class:`lsgan_lib.train.images.ImageGANRun`): :func:`frechet_ratio` of
    ``n`` samples of the trained generator against the *same* generator at initialisation (rebuilt from the run's
    seed), both from the same latents (drawn with ``seed``), to ``real`` images ``(m, C, H, W)``, in the feature space
    of ``features`` (a callable ``(n, C, H, W) → (n, k)``). Returns the ratio's entries and ``samples`` — the trained
    generator's ``(n, C, H, W)`` images."""
    from ..data.distributions import latent
    from ..train.images import build_image_networks

    config = run.config
    z = latent(config.latent).sample(n, config.latent_dim, torch.Generator().manual_seed(seed))
    untrained, _ = build_image_networks(config, real.shape[1], real.shape[-1])
    trained, untrained = run.generator.eval(), untrained.eval()
    generated = torch.cat([trained(part) for part in z.split(chunk)])
    initial = torch.cat([untrained(part) for part in z.split(chunk)])
    return frechet_ratio(features(generated), features(initial), features(real)) | {"samples": generated}


def frechet_ratio(features_generated: torch.Tensor, features_untrained: torch.Tensor, features_real: torch.Tensor
                  ) -> dict[str, float]:
    """The image gate's measurement: the Fréchet distance of a trained generator's samples to real images, divided by
    that of the same generator at initialisation (features ``(n, k)`` each, from one feature net). The gate asks for
    a ratio ≤ 0.5. Returns ``trained``, ``untrained`` and ``ratio``."""

    trained = frechet_distance(features_generated, features_real)
    untrained = frechet_distance(features_untrained, features_real)
    return {"trained": trained, "untrained": untrained, "ratio": fd_ratio(trained, untrained)}


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
