"""Models: the networks and the GAN objectives."""
