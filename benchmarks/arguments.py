"""Argument types the benchmark scripts share."""

from __future__ import annotations

import argparse


def ranged(low: float, high: float, kind=int):
    """An argparse type: a number of `kind` from `low` to `high` (NaN refused), or a message saying the range."""
    def parse(text: str):
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its "invalid int value" message
    return parse
