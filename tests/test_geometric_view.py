"""The geometric-view chapter's settings and claim helpers."""

import pytest

from lsgan_lib.geometric_view import all_of


def test_all_of_fails_on_any_failure_and_is_undecided_on_any_undecided_part():
    assert all_of(True, True) is True
    assert all_of(True, None) is None
    assert all_of(None, False, True) is False
    with pytest.raises(ValueError):
        all_of()
