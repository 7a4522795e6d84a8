"""Training: configurations, the toy loop, the image GAN and autoencoder, the Dask fan-out."""
