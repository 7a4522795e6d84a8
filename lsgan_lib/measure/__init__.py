"""Measurement: metrics, manifold-alignment geometry, inversion, image features, claims and gates."""
