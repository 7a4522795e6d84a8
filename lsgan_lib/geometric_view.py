"""The geometric-view chapter (paper 002): its two named training settings and the small pieces of logic its
claims use.

``SETTINGS`` names the two ways of reading the paper's training procedure (see :func:`setting_fields`); ``all_of``
combines criteria that must all hold into one claim outcome.
"""

from __future__ import annotations


def all_of(*outcomes: bool | None) -> bool | None:
    """The outcome of a criterion made of parts that must all hold: ``False`` when any part fails, else ``None`` when
    any part is undecided (an interval straddling its threshold), else ``True``."""
    if not outcomes:
        raise ValueError("all_of needs at least one outcome")
    if any(o is False for o in outcomes):
        return False
    if any(o is None for o in outcomes):
        return None
    return True
