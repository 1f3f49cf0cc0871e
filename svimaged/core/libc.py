"""Functions of the C library this interpreter is linked with that `os` does not offer
(`malloc_trim`, `syncfs`), looked up once through ctypes."""

from __future__ import annotations

import ctypes
from typing import Any


def libc_function(name: str, argtypes: list[Any], restype: Any) -> Any | None:
    """The C library's `name` with its argument and result types set (errno kept for
    `ctypes.get_errno()`), None where the library has no such function."""
    try:
        function = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = restype
    return function
