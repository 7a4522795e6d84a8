"""Pilot: how many iterations the latent-space chapter's image models need to pass its training gates, and what they
cost.

    python bench/latent_space_pilot.py [--dataset celeba] [--size 32] [--width 64] [--batch 64] [--dim 100]
                                       [--iters 1500] [--ae-iters 1000] [--seed 1] [--n-fid 500] [--n-train 4000]
                                       [--classifier-train 20000] [--lenet-steps 1000] [--channels-last]
                                       [--precision fp32|bf16]

Trains one WGAN-GP (and one autoencoder) of the chapter at the given sizes on a held-out seed (the chapter uses 0),
with snapshots of ``--n-fid`` samples from fixed latents along the way, and prints for every snapshot the gate
measurement the chapter uses: the Fréchet distance on the chapter's feature network (the FD-LeNet substitute) to the
validation images, over that of the same generator at initialisation (snapshot 0; the former gate, ≤ 0.5), and over
the data-vs-data floor (the first ``--n-fid`` training images against the validation images; issue 29's gate needs
≤ 3); on MNIST also the gate classifier's mean confidence (≥ 0.8). At the end: each generator layer's weight
displacement ‖W − W₀‖ / ‖W₀‖ (Fig. 1's gate needs ≥ 1 in every layer) and excess kurtosis. For the autoencoder: its
validation MSE over the per-pixel mean image's (≤ 0.5). With the wall time per iteration, this is what the ``cpu``
profile is designed from (bench/README.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.chapters import latent_space as ls  # noqa: E402
from lsgan_lib.measure import features, metrics  # noqa: E402
from lsgan_lib.train.config import PRECISIONS  # noqa: E402
from lsgan_lib.train.images import train_autoencoder, train_image_gan  # noqa: E402

VAL = {"cifar10": "test", "celeba": "val", "mnist": "test"}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="celeba", choices=sorted(VAL))
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--iters", type=int, default=1500)
    parser.add_argument("--ae-iters", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n-fid", type=int, default=500)
    parser.add_argument("--n-train", type=int, default=4000, help="training images per data set (0: all)")
    parser.add_argument("--classifier-train", type=int, default=20000,
                        help="real MNIST images that train the gate classifier (the cpu profile's classifier_train)")
    parser.add_argument("--lenet-steps", type=int, default=1000,
                        help="the gate classifier's Adam steps (the cpu profile's lenet_steps)")
    parser.add_argument("--feature-train", type=int, default=10000)
    parser.add_argument("--feature-steps", type=int, default=600)
    parser.add_argument("--channels-last", action="store_true", help="train in the channels-last memory format")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="arithmetic of the networks' forward passes in training (default fp32)")
    args = parser.parse_args(argv)

    marks = sorted({0, *(int(args.iters * f) for f in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)), args.iters})
    n_train = args.n_train or None
    config = ls.gan_config(args.dataset, args.dim, args.width, args.size, args.iters, args.batch, n_train,
                           seed=args.seed, snapshots=tuple(marks), n_samples=args.n_fid,
                           channels_last=args.channels_last, precision=args.precision)
    started = time.perf_counter()
    run = train_image_gan(config, device="cpu", progress=False)
    gan_wall = time.perf_counter() - started
    feature, size, name, note = features.feature_network("lenet", args.feature_train, args.feature_steps, 0)
    reference = ls.evaluation_images(args.dataset, VAL[args.dataset], args.n_fid, args.size)[0]
    untrained = features.feature_distance(feature, run.at(0), reference, size)
    floor = features.feature_distance(feature, ls.evaluation_images(args.dataset, "train", args.n_fid, args.size)[0],
                                      reference, size)
    classifier = None
    if args.dataset == "mnist":
        train, labels = ls.evaluation_images("mnist", "train", args.classifier_train, args.size)
        test, test_labels = ls.evaluation_images("mnist", "test", 2000, args.size)
        classifier, acc = features.lenet5_mnist_classifier(train, labels, test, test_labels, args.lenet_steps, 0)
        print(f"gate classifier: test accuracy {acc:.3f}")
    print(f"# pilot: {config.describe()}, {args.size} px, width {args.width}, batch {args.batch}, {args.iters} "
          f"iterations: {run.seconds:.0f} s in the trainer ({1e3 * run.seconds / args.iters:.0f} ms per iteration"
          f"{', from the cache' if run.from_cache else ''}; wall {gan_wall:.0f} s)")
    print(f"{name}: {note}; data-vs-data floor {floor:.4g} ({args.n_fid} training vs {args.n_fid} validation images)")
    print()
    print("| iteration | FD | FD / FD at initialisation | FD / floor | MNIST confidence |")
    print("|---:|---:|---:|---:|---:|")
    for it in marks:
        value = features.feature_distance(feature, run.at(it), reference, size)
        conf = (f"{float(features.classifier_confidence(classifier, run.at(it)).mean()):.2f}" if classifier is not None
                else "–")
        print(f"| {it} | {value:.4g} | {value / untrained:.3f} | {value / floor:.2f} | {conf} |")
    moved = ls.weight_displacement(run.generator, ls.untrained_generator(config, reference.shape[1]))
    kurtosis = [metrics.excess_kurtosis(w) for _, w in ls.layer_weights(run.generator)]
    print()
    print("generator layers at the last iteration: " + "; ".join(
        f"{layer}: moved {ratio:.2f}, excess kurtosis {k:.2f}" for (layer, ratio), k in zip(moved, kurtosis)))
    if args.ae_iters:
        ae_config = ls.ae_config(args.dataset, args.dim, args.width, args.size, args.ae_iters, args.batch,
                                 n_train, seed=args.seed, channels_last=args.channels_last,
                                 precision=args.precision)
        ae = train_autoencoder(ae_config, device="cpu", progress=False)
        train_images = ls.evaluation_images(args.dataset, "train", n_train, args.size)[0]  # None: all
        mse = float(ls.autoencoder_errors(ae, reference)[1].mean())
        base = float(ls.mean_image_errors(train_images, reference).mean())
        print()
        print(f"autoencoder, {args.ae_iters} iterations: {ae.seconds:.0f} s ({1e3 * ae.seconds / args.ae_iters:.0f} ms "
              f"per iteration); validation MSE {mse:.4f}, per-pixel mean image {base:.4f}, ratio {mse / base:.3f}")


if __name__ == "__main__":
    main()
