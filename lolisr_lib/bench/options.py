"""Checking the benchmark commands' numeric options: one rule and one message for every count."""

from __future__ import annotations

from lolisr_lib.errors import UserError


def check_counts(options, least: dict[str, int]) -> None:
    """Each ``options.<name>`` is None or an integer of at least ``least[name]``; else a UserError naming the flag."""
    for name, minimum in least.items():
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
            raise UserError(f"--{name.replace('_', '-')} {value!r} must be an integer of at least {minimum}")
