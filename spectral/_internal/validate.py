"""Argument checks shared by every subpackage (expected vs actual in each message)."""

from __future__ import annotations

import math
from typing import Any, NoReturn

import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = [
    "check_batch_size",
    "check_choice",
    "check_cutoffs",
    "check_finite_values",
    "check_float",
    "check_images",
    "check_int",
    "check_labels",
    "check_model",
    "check_positive",
    "check_same_shape",
    "check_transform_finite",
    "raise_non_finite",
]


_REAL_DTYPES = (torch.float32, torch.float64)


def check_images(x: Any, name: str = "x", *, check_finite: bool = True) -> torch.Tensor:
    """Validate a real floating batch of shape ``(B, C, H, W)`` and return it.

    Args:
        x: the candidate tensor.
        name: the argument name used in error messages.
        check_finite: also reject NaN and Inf.

    Returns:
        ``x`` unchanged.

    Raises:
        SpectralTypeError: not a tensor, complex, or not float32/float64.
        SpectralValueError: wrong number of dimensions, an empty dimension, or NaN/Inf.
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
    if check_finite:
        check_finite_values(x, name)
    return x


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


def check_cutoffs(cutoffs: Any) -> tuple[float, float]:
    """Validate band cutoffs ``(low_mid, mid_high)`` in cycles/pixel, ``0 < c1 < c2``."""
    try:
        c1, c2 = (float(c) for c in cutoffs)
    except (TypeError, ValueError):
        raise SpectralValueError(
            f"cutoffs: expected two numbers (low/mid, mid/high) in cycles/pixel, got {cutoffs!r}"
        ) from None
    if not (0.0 < c1 < c2):
        raise SpectralValueError(
            f"cutoffs: expected 0 < low/mid < mid/high (cycles/pixel), got ({c1}, {c2})"
        )
    return c1, c2


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float, raising unless it is a finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpectralTypeError(f"{name}: expected a positive number, got {value!r}") from None
    if not (v > 0.0 and v != float("inf")):
        raise SpectralValueError(f"{name}: expected a finite number > 0, got {v}")
    return v


def check_model(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(
            f"{name}: expected a torch.nn.Module returning logits, got {type(model).__name__}"
        )
    return model


def check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise SpectralTypeError(
            f"batch_size: expected an int >= 1, got {type(batch_size).__name__}"
        )
    if batch_size < 1:
        raise SpectralValueError(f"batch_size: expected an int >= 1, got {batch_size}")
    return batch_size


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


def check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpectralTypeError(f"{name}: expected an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise SpectralValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def check_float(value: Any, name: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpectralTypeError(f"{name}: expected a number, got {value!r}") from None
    ok = (v > minimum if strict else v >= minimum) and math.isfinite(v)
    if not ok:
        op = ">" if strict else ">="
        raise SpectralValueError(f"{name}: expected a finite number {op} {minimum}, got {v}")
    return v


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SpectralValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return str(value)
