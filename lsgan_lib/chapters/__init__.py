"""Chapters: one module per paper, only what is specific to that paper's experiments."""
