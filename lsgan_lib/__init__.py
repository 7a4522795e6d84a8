"""lsgan_lib: the thin library behind *Geometric GANs, reproduced*.

"LS" stands for *level set*; the least-squares GAN of Mao et al. is called ``least_squares`` everywhere.

The library is built in floors; a module imports only its own floor and those below it (``tests/test_layers.py``):

* ``cache`` — the results cache (payloads keyed by a hash of their configuration);
* ``data/`` — toy manifolds and latents (``distributions``), image datasets (``images``), ``lsgan-book data``
  (``download``); ``models/`` — networks (``nets``) and GAN objectives (``objectives``);
* ``train/`` — configurations, runs and the precision setting (``config``), the one toy training loop (``batched``;
  K = 1 is ``train_gan``; ``toy`` gathers the public names), image GANs and autoencoders (``images``), progress
  (``progress``), the Dask fan-out (``cluster``);
* ``measure/`` — metrics, manifold-alignment geometry (``alignment``), inversion, claims, gates and verdicts
  (``claims``);
* ``chapters/`` — one module per paper with only what is specific to it; ``plots`` beside it;
* ``book/`` — the ``lsgan-book`` command: profiles and parameters, papermill runs, provenance, the claims overview,
  the build, publishing, sweeps. Nothing below it imports it.

Where a new piece goes: a GAN objective in ``models/objectives.py``, a toy data set in ``data/distributions.py``, an
image data set in ``data/images.py``, a metric in ``measure/metrics.py``, a chapter in ``notebooks/<name>.ipynb`` (and
``chapters/<name>.py`` for code of its own).

Profiles (``notebooks/profiles/*.yml``) set scale, not device: ``smoke`` (every code path, meaningless numbers),
``quick`` (a first look, ≤ 20 min a chapter on 2 cores), ``cpu`` (the trained scale, ≤ 90 min a chapter on 2 cores;
parts that cannot train on a CPU read ``not tested``), ``gpu`` and ``paper``. Verdicts come from
:mod:`lsgan_lib.measure.claims`: a claim on trained models quotes the paper's sentence and names its training gates;
each gate says what it certifies and why that is independent of the claim, and passes when at least 80% of its seeds
pass (the claim is measured over those seeds); a failed gate reads ``not tested`` whatever the measurement.
``extension`` rows (our readings, stricter than the paper's) are counted apart from the claims about the papers.
Reusable measurements live in ``measure/`` (``metrics``, image ``features``), never in a chapter module.
"""

__version__ = "0.1.0"
