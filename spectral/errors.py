"""Typed exceptions raised by :mod:`spectral`.

Every error caused by the caller's input derives from :class:`SpectralError`, so a
front end (the CLI) can report it as one line while genuine bugs still surface with
a traceback. The concrete classes also derive from the matching built-in
(``ValueError``, ``TypeError``, ``OSError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "ImageReadError",
    "SpectralError",
    "SpectralTypeError",
    "SpectralValueError",
]


class SpectralError(Exception):
    """Base class for errors caused by the caller's input."""


class SpectralValueError(SpectralError, ValueError):
    """An argument has the right type but an invalid value (shape, range, NaN, name)."""


class SpectralTypeError(SpectralError, TypeError):
    """An argument has the wrong type or dtype (e.g. complex where real is expected)."""


class ImageReadError(SpectralError, OSError):
    """An image file is missing, unreadable, or not a supported image."""
