"""Data: the toy manifolds and latents, the image datasets, `lsgan-book data`."""
