"""lsgan_lib: the thin library behind *Geometric GANs, reproduced*.

"LS" stands for *level set*; the least-squares GAN of Mao et al. is called ``least_squares`` everywhere. Modules
(flat, one job each): ``distributions``, ``datasets``, ``nets``, ``objectives``, ``training``, ``batched``,
``metrics``, ``plots``,
``cache``, ``claims``, ``book`` (the ``lsgan-book`` command).
"""

__version__ = "0.1.0"
