"""lsgan_lib: the thin library behind *Geometric GANs, reproduced*.

"LS" stands for *level set*; the least-squares GAN of Mao et al. is called ``least_squares`` everywhere. Modules
(flat, one job each): ``distributions``, ``datasets``, ``nets``, ``objectives``, ``training``, ``batched``,
``image_training``, ``inversion``, ``metrics``, ``plots``, ``cache``, ``claims``, ``book`` (the ``lsgan-book``
command), ``sweep`` (``lsgan-book sweep`` and training fanned out on Dask), ``sphinx_fixes``; and one per chapter's
own measures: ``level_set``, ``geometry`` (the manifold-alignment chapter), ``latent_space``.
"""

__version__ = "0.1.0"
