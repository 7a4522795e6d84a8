"""lsgan_lib: the thin library behind *Geometric GANs, reproduced*.

"LS" stands for *level set*; the least-squares GAN of Mao et al. is called ``least_squares`` everywhere. Modules
(flat, one job each): ``distributions``, ``datasets``, ``nets``, ``objectives``, ``training``, ``batched``,
``image_training``, ``inversion``, ``metrics``, ``plots``, ``cache``, ``claims``, ``book`` (the ``lsgan-book``
command), ``publishing`` (where executed chapters go, the kernels' settings, the build's refusal of machine paths,
``lsgan-book serve``), ``data_setup`` (``lsgan-book data``), ``sweep`` (``lsgan-book sweep`` and training fanned out on
Dask), ``sphinx_fixes``; and one per chapter's own measures: ``level_set``, ``geometry`` (the manifold-alignment
chapter), ``latent_space``.

Profiles (``notebooks/profiles/*.yml``) set scale, not device: ``smoke`` (every code path, meaningless numbers),
``quick`` (a first look, ≤ 20 min a chapter on 2 cores), ``cpu`` (the trained scale: every training gate passes, ≤ 90
min a chapter on 2 cores; parts that cannot train on a CPU read ``not tested``), ``gpu`` and ``paper``. Verdicts come
from :mod:`lsgan_lib.claims`: a claim on trained models names its training gates, and a failed gate reads
``not tested`` whatever the measurement.
"""

__version__ = "0.1.0"
