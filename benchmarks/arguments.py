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


def names_of(known):
    """An argparse type: comma-separated names among `known` (any case) → those names as `known` spells and orders
    them; ArgumentTypeError naming the choices for an unknown or empty list."""
    spelled = {name.lower(): name for name in known}

    def parse(text: str) -> list[str]:
        wanted = {name.strip().lower() for name in text.split(",") if name.strip()}
        if not wanted or wanted - set(spelled):
            raise argparse.ArgumentTypeError(f"choose among {', '.join(known)} (comma-separated), not {text!r}")
        return [name for name in known if name.lower() in wanted]
    return parse
