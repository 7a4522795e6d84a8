"""Toy GANs: the public names in one place, for notebooks and scripts.

``train_gan(GANConfig(...))`` trains one generator/critic pair on a toy distribution, or loads it from the results
cache when the same configuration was trained before; ``train_runs([...])`` does this for a list of configurations
under one progress bar, and ``train_sweep([...])`` trains a sweep batched by shape. Every random choice flows from
``config.seed``: the networks' initialisation, the data and latent batches, and the fixed evaluation latents of the
snapshots.

Nothing is defined here. The configuration, the run, the networks a configuration builds, the precision setting and
the errors live in :mod:`lsgan_lib.train.config`; the one training loop (K runs as one stacked model, a single run at
K = 1) and its entry points in :mod:`lsgan_lib.train.batched`; the progress bar in :mod:`lsgan_lib.train.progress`.
"""

from .batched import train_batched, train_gan, train_runs, train_sweep
from .config import (CACHE_KIND, PRECISIONS, GANConfig, GANRun, TrainingDiverged, build_networks, critic_steps,
                     default_device, device_name)
from .progress import ProgressBar, progress_mode

__all__ = ["CACHE_KIND", "PRECISIONS", "GANConfig", "GANRun", "ProgressBar", "TrainingDiverged", "build_networks",
           "critic_steps", "default_device", "device_name", "progress_mode", "train_batched", "train_gan", "train_runs",
           "train_sweep"]
