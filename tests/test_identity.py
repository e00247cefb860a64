"""Tests for dashboard.identity: the owner key is the identity hashed, the one place it is."""

from __future__ import annotations

from dashboard.identity import owner_of


def test_owner_key_hides_the_identity():
    assert owner_of("abc") == owner_of("abc") != owner_of("abd")
    assert "abc" not in owner_of("abc")
    assert len(owner_of("abc")) == 24 and int(owner_of("abc"), 16) >= 0
