"""Argument checks shared by every subpackage (expected vs actual in each message)."""

from __future__ import annotations

import math
import numbers
from enum import Enum
from typing import Any, NoReturn, TypeVar

import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = [
    "check_batch_size",
    "check_choice",
    "check_finite_values",
    "check_float",
    "check_images",
    "check_int",
    "check_labels",
    "check_model",
    "check_positive",
    "check_same_shape",
    "check_transform_finite",
    "check_unit_range",
    "parse_enum",
    "raise_non_finite",
]


_REAL_DTYPES = (torch.float32, torch.float64)


def check_images(
    x: Any, name: str = "x", *, check_finite: bool = True, unit_range: bool = False
) -> torch.Tensor:
    """Validate a real floating batch of shape ``(B, C, H, W)`` and return it.

    Args:
        x: the candidate tensor.
        name: the argument name used in error messages.
        check_finite: also reject NaN and Inf.
        unit_range: also reject values outside ``[0, 1]`` (see :func:`check_unit_range`);
            for images that a model will see.

    Returns:
        ``x`` unchanged.

    Raises:
        SpectralTypeError: not a tensor, complex, or not float32/float64.
        SpectralValueError: wrong number of dimensions, an empty dimension, NaN/Inf, or
            (with ``unit_range``) values outside ``[0, 1]``.
    """
    if not isinstance(x, torch.Tensor):
        raise SpectralTypeError(
            f"{name}: expected a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}"
        )
    if x.is_complex():
        raise SpectralTypeError(
            f"{name}: expected a real floating tensor (float32/float64), got complex dtype "
            f"{x.dtype}; pass the real signal, not its transform"
        )
    if x.dtype not in _REAL_DTYPES:
        hint = " (convert images with x.float() / 255)" if not x.is_floating_point() else ""
        raise SpectralTypeError(f"{name}: expected dtype float32 or float64, got {x.dtype}{hint}")
    if x.ndim != 4:
        raise SpectralValueError(
            f"{name}: expected 4 dimensions (B, C, H, W), got {x.ndim} with shape "
            f"{tuple(x.shape)}" + ("; add a batch dimension with x[None]" if x.ndim == 3 else "")
        )
    if x.numel() == 0:
        raise SpectralValueError(f"{name}: expected a non-empty tensor, got shape {tuple(x.shape)}")
    if check_finite or unit_range:
        check_finite_values(x, name)
    if unit_range:
        check_unit_range(x, name)
    return x


#: Slack allowed beyond [0, 1] for float round-off (e.g. ``x + delta`` after a clamp).
UNIT_RANGE_TOLERANCE = 1e-6


def check_unit_range(x: torch.Tensor, name: str = "x") -> None:
    """Raise :class:`SpectralValueError` unless every value of ``x`` is in ``[0, 1]``.

    Models in :mod:`spectral` take images in ``[0, 1]`` (any normalisation is inside the
    model); values up to :data:`UNIT_RANGE_TOLERANCE` outside are float round-off and
    pass. The message names the likely cause: pixel values in ``0..255``, or images that
    were already normalised.

    Examples:
        >>> check_unit_range(torch.tensor([0.0, 1.0 + 1e-7]))
        >>> try:
        ...     check_unit_range(torch.tensor([0.0, 255.0]), "x")
        ... except SpectralValueError as err:
        ...     print(err)
        x: expected images in [0, 1], got values in [0.0, 255.0]; did you forget to divide by 255?
    """
    lo, hi = float(x.min()), float(x.max())
    tol = UNIT_RANGE_TOLERANCE
    if lo >= -tol and hi <= 1.0 + tol:
        return
    if hi > 1.0 + tol and lo >= -tol:
        hint = "did you forget to divide by 255?" if hi > 1.5 else "clamp them with x.clamp(0, 1)"
    elif lo < -tol and hi <= 1.0 + tol and lo > -0.5:
        hint = "clamp them with x.clamp(0, 1)"
    else:
        hint = "were they normalised? pass raw images; normalise inside the model"
    raise SpectralValueError(
        f"{name}: expected images in [0, 1], got values in [{round(lo, 6)}, {round(hi, 6)}]; {hint}"
    )


def check_finite_values(x: torch.Tensor, name: str = "x") -> None:
    """Raise :class:`SpectralValueError` if ``x`` holds NaN or Inf (counting them)."""
    if not bool(torch.isfinite(x).all()):
        raise_non_finite(x, name)


def check_transform_finite(f: torch.Tensor, x: torch.Tensor, name: str = "x") -> None:
    """Raise unless the DC terms of ``f = rfft2(x)`` are finite.

    A NaN/Inf anywhere in an image reaches its DC term (the sum), so this checks the whole
    input for the price of ``B * C`` values, and also catches a transform that overflows.
    """
    if not bool(torch.isfinite(f[..., 0, 0]).all()):
        raise_non_finite(x, name)


def raise_non_finite(x: Any, name: str) -> NoReturn:
    """Raise the non-finite error for ``x`` (a tensor or array), naming how many entries."""
    t = torch.as_tensor(x)
    n_bad = int((~torch.isfinite(t)).sum())
    detail = f"found {n_bad} NaN/Inf entries" if n_bad else "values too large to transform"
    raise SpectralValueError(f"{name}: expected finite values, {detail}")


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str]) -> None:
    """Raise :class:`SpectralValueError` unless ``a`` and ``b`` share shape, dtype and device."""
    if a.shape != b.shape:
        raise SpectralValueError(
            f"{names[1]}: expected the shape of {names[0]} {tuple(a.shape)}, got {tuple(b.shape)}"
        )
    if a.dtype != b.dtype:
        raise SpectralTypeError(
            f"{names[1]}: expected the dtype of {names[0]} ({a.dtype}), got {b.dtype}"
        )
    if a.device != b.device:
        raise SpectralValueError(
            f"{names[1]}: expected the device of {names[0]} ({a.device}), got {b.device}"
        )


def check_model(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(
            f"{name}: expected a torch.nn.Module returning logits, got {type(model).__name__}"
        )
    return model


def check_labels(y: Any, x: torch.Tensor, name: str = "labels") -> torch.Tensor:
    """Validate integer labels of shape ``(B,)`` matching the batch ``x``."""
    if not isinstance(y, torch.Tensor):
        raise SpectralTypeError(
            f"{name}: expected a torch.Tensor of integer labels, got {type(y).__name__}"
        )
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise SpectralTypeError(
            f"{name}: expected an integer dtype (e.g. torch.long), got {y.dtype}"
        )
    if y.shape != (x.shape[0],):
        raise SpectralValueError(
            f"{name}: expected shape ({x.shape[0]},) (one label per image), got {tuple(y.shape)}"
        )
    if y.device != x.device:
        raise SpectralValueError(
            f"{name}: expected the device of the images ({x.device}), got {y.device}"
        )
    if y.numel() and int(y.min()) < 0:
        raise SpectralValueError(f"{name}: expected labels >= 0, got minimum {int(y.min())}")
    return y


# Scalar options. One rule throughout: a value of the wrong Python type raises
# SpectralTypeError; a value of the right type that is out of range or not among the
# choices raises SpectralValueError. Messages read "<name>: expected ..., got ...".

E = TypeVar("E", bound=Enum)


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) ``>= minimum``.

    Raises:
        SpectralTypeError: not an int (a bool, a float such as ``2.0``, a str, ...).
        SpectralValueError: below ``minimum``.
    """
    bound = "" if minimum is None else f" >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SpectralTypeError(f"{name}: expected an int{bound}, got {value!r}")
    if minimum is not None and value < minimum:
        raise SpectralValueError(f"{name}: expected an int{bound}, got {value}")
    return int(value)


def check_batch_size(batch_size: Any) -> int:
    """:func:`check_int` for ``batch_size >= 1``."""
    return check_int(batch_size, "batch_size", 1)


def check_float(
    value: Any, name: str, *, minimum: float | None = 0.0, strict: bool = True
) -> float:
    """Return ``value`` as a finite float, ``> minimum`` (``>=`` when not ``strict``).

    Ints, floats, numpy scalars and one-element real tensors are numbers; bools and
    strings are not.

    Raises:
        SpectralTypeError: not a real number.
        SpectralValueError: NaN, infinite, or out of range.
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SpectralTypeError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    op = ">" if strict else ">="
    bound = "" if minimum is None else f" {op} {minimum}"
    in_range = minimum is None or (v > minimum if strict else v >= minimum)
    if not (math.isfinite(v) and in_range):
        raise SpectralValueError(f"{name}: expected a finite number{bound}, got {v}")
    return v


def check_positive(value: Any, name: str) -> float:
    """:func:`check_float` for a finite number ``> 0``."""
    return check_float(value, name, minimum=0.0, strict=True)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of the strings ``choices``.

    Raises:
        SpectralTypeError: not a str.
        SpectralValueError: not among ``choices``.
    """
    if not isinstance(value, str):
        raise SpectralTypeError(
            f"{name}: expected one of {list(choices)}, got {type(value).__name__} {value!r}"
        )
    if value not in choices:
        raise SpectralValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return value


def parse_enum(value: Any, enum: type[E], name: str, *, fold_case: bool = False) -> E:
    """Return the member of ``enum`` that ``value`` names (or ``value`` if it is one).

    Args:
        value: a member of ``enum`` or its string value.
        enum: a ``str``-valued :class:`~enum.Enum`.
        name: the argument name used in error messages.
        fold_case: compare strings case-insensitively, ignoring surrounding spaces.

    Raises:
        SpectralTypeError: neither a member nor a str.
        SpectralValueError: a str that names no member (the message lists them).
    """
    if isinstance(value, enum):
        return value
    valid = ", ".join(repr(m.value) for m in enum)
    if not isinstance(value, str):
        raise SpectralTypeError(
            f"{name}: expected one of {valid} (str or {enum.__name__}), got {type(value).__name__}"
        )
    key = value.strip().lower() if fold_case else value
    for member in enum:
        if member.value == key:
            return member
    raise SpectralValueError(f"{name}: expected one of {valid}, got {value!r}")
