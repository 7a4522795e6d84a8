"""The book runner: the `lsgan-book` command, parameters and profiles, papermill runs, publishing, sweeps."""
