"""Retry policy for failed downloads (contract section 5). Pure."""

from __future__ import annotations


def retry_delay(failures: int, status: int | None, initial: float, maximum: float) -> float:
    """Seconds to wait after the `failures`-th consecutive failure (1-based).

    Exponential: `initial`, doubling per failure, capped at `maximum`. A 404 (the image is
    gone) waits the cap straight away.
    """
    if status == 404:
        return maximum
    exponent = max(0, failures - 1)
    if exponent >= 64:
        return maximum
    return float(min(maximum, initial * (2**exponent)))
