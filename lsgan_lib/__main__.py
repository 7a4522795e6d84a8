"""``python -m lsgan_lib`` is the ``lsgan-book`` command."""

import sys

from .book.cli import main

sys.exit(main())
