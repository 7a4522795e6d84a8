"""Pilot: does the level-set chapter's image Level Set GAN pass its image gate at a size the ``cpu`` profile can afford?

    python bench/level_set_image_pilot.py [--dataset mnist] [--width 64] [--iters 3000] [--n-gen 1] [--lr 1e-4]
                                          [--objective level_set] [--seed 1] [--n-train 60000] [--n-eval 1000]
                                          [--snapshots 6] [--classifier-train 20000] [--device cpu]

Trains one image Level Set GAN as the chapter builds it (``image_config`` in notebooks/level_set.ipynb: DCGAN nets of
base width ``--width``, RMSprop, one critic step and ``--n-gen`` generator steps per batch, batch 64, 100-d Gaussian
noise) on a held-out seed (the chapter uses 0), storing ``--n-eval`` samples from fixed latents at every snapshot, and
prints for each snapshot the chapter's image gate: the Fréchet distance to held-out real images over that of the same
generator at initialisation (snapshot 0; needs ≤ 0.5), on the MNIST classifier's features (MNIST) or the fixed random
feature net (CelebA); on MNIST also the classifier's mean confidence (needs ≥ 0.8) and the digit classes with ≥ 1% of
the predictions. Then L's growth (the chapter's explosion measure, reference window [50, 100)) and the wall time per
iteration, from which the ``cpu`` profile's image settings are chosen (bench/README.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.chapters import level_set as ls  # noqa: E402
from lsgan_lib.measure import features as image_features  # noqa: E402
from lsgan_lib.data.images import load_images  # noqa: E402
from lsgan_lib.train.images import ImageGANConfig, train_image_gan  # noqa: E402

HELD_OUT = {"mnist": "test", "celeba": "val"}
EXPLOSION_START = 100  # the chapter's explosion_start: L's scale is its median |L| over iterations [50, 100)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist", choices=sorted(HELD_OUT))
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--iters", type=int, default=3000)
    parser.add_argument("--n-gen", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4, help="RMSprop lr (the chapter: MNIST 1e-4, CelebA 2e-4)")
    parser.add_argument("--objective", default="level_set", choices=["level_set", "level_set_l1"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=60000, help="training images (0: all)")
    parser.add_argument("--n-eval", type=int, default=1000, help="samples per snapshot and held-out images")
    parser.add_argument("--snapshots", type=int, default=6)
    parser.add_argument("--classifier-train", type=int, default=20000,
                        help="MNIST images of the chapter's classifier (its classifier_n_train)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="torch device of the training, e.g. cuda (default cpu)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    config = ImageGANConfig(dataset=args.dataset, width=args.width, latent_dim=100, latent="gaussian",
                            objective=args.objective, optimizer="rmsprop", lr=args.lr, n_critic=1, n_gen=args.n_gen,
                            n_iter=args.iters, batch_size=64, n_train=args.n_train or None,
                            snapshots=ls.snapshot_schedule(args.iters, args.snapshots), n_samples=args.n_eval,
                            seed=args.seed)
    with tempfile.TemporaryDirectory() as results:
        started = time.perf_counter()
        run = train_image_gan(config, device=args.device, progress=False, results_root=Path(results))
        wall = time.perf_counter() - started
    held_out, _ = load_images(args.dataset, HELD_OUT[args.dataset], args.n_eval)
    classifier = None
    if args.dataset == "mnist":
        classifier, accuracy = image_features.train_mnist_classifier(n_train=args.classifier_train, seed=0)
        features = lambda x: image_features.classifier_features(classifier, x)  # noqa: E731
        print(f"MNIST classifier: {args.classifier_train:,} digits, test accuracy {accuracy:.3f}")
    else:
        net = image_features.random_feature_net(3, seed=0)
        features = lambda x: net(x).detach()  # noqa: E731
    print(f"# pilot: {args.dataset}, {args.objective}, width {args.width}, n_gen {args.n_gen}, lr {args.lr:g}, seed "
          f"{args.seed}, {args.iters} iterations: {wall:.0f} s ({1e3 * wall / args.iters:.0f} ms per iteration, "
          f"{args.threads} thread(s), {args.device})")
    print()
    print("| iteration | FD / FD at initialisation (gate ≤ 0.5) | classifier confidence (gate ≥ 0.8) | classes ≥ 1% |")
    print("|---:|---:|---:|---:|")
    with torch.no_grad():
        initial = features(run.at(0))
        real = features(held_out)
        for it in run.snapshot_iters:
            ratio = image_features.frechet_ratio(features(run.at(it)), initial, real)["ratio"]
            if classifier is not None:
                probs = torch.cat([classifier(part).softmax(dim=1) for part in run.at(it).split(1000)])
                confidence = f"{float(probs.max(dim=1).values.mean()):.3f}"
                classes = str(image_features.class_coverage(probs.argmax(dim=1), min_share=0.01)["classes"])
            else:
                confidence = classes = "–"
            print(f"| {it} | {ratio:.3f} | {confidence} | {classes} |")
    print()
    if args.iters > EXPLOSION_START:
        explosion = ls.loss_explosion(run.losses, EXPLOSION_START, 100.0)
        print(f"L: reference |L| {explosion['reference']:.3g}, max |L| {explosion['max_abs']:.3g}, growth "
              f"{explosion['growth']:.3g}, non-finite {explosion['non_finite']}")
    else:
        print(f"L's growth: not measured (needs more than {EXPLOSION_START} iterations)")


if __name__ == "__main__":
    main()
