"""Fourier heat maps (Yin et al. 2019): error rate under each Fourier basis image."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.modelstate import channels_last, model_left_as_found, model_logits, set_eval
from spectral._internal.validate import (
    check_batch_size,
    check_images,
    check_labels,
    check_model,
)
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = [
    "fourier_basis",
    "fourier_heatmap",
]


def _check_size(size: Any) -> tuple[int, int]:
    if (
        not isinstance(size, tuple | list)
        or len(size) != 2
        or not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in size)
        or min(size) < 1
    ):
        raise SpectralValueError(f"size: expected (H, W) with positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _bases(
    size: tuple[int, int], ky: torch.Tensor, kx: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """``(K, H, W)`` unit-norm ``cos(2 pi (ky y / H + kx x / W))`` for integer ``ky, kx``.

    Built as ``cos a cos b - sin a sin b`` from per-axis tables, in float64, so a chunk of
    bases costs two outer products and no ``H x W`` trigonometry.
    """
    h, w = size
    dev = ky.device
    y = torch.arange(h, dtype=torch.float64, device=dev)
    x = torch.arange(w, dtype=torch.float64, device=dev)
    # reduce k * n modulo the period before scaling so large indices stay exact
    a = 2 * math.pi * torch.remainder(ky[:, None].double() * y, h) / h
    b = 2 * math.pi * torch.remainder(kx[:, None].double() * x, w) / w
    u = a.cos()[:, :, None] * b.cos()[:, None, :] - a.sin()[:, :, None] * b.sin()[:, None, :]
    u = u / u.square().sum((1, 2), keepdim=True).sqrt()
    return u.to(dtype)


def fourier_basis(
    size: tuple[int, int],
    freq: tuple[int, int],
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """The real Fourier basis image of one frequency, with unit L2 norm.

    ``U[y, x] = cos(2 pi (k_y y / H + k_x x / W)) / ||.||_2``. Its 2-D DFT is non-zero only
    at ``(k_y mod H, k_x mod W)`` and the mirrored bin ``(-k_y mod H, -k_x mod W)`` (the
    same bin for DC and Nyquist frequencies).

    Args:
        size: ``(H, W)``.
        freq: ``(k_y, k_x)`` in cycles per image; negative values and values beyond
            Nyquist alias as the DFT does.
        dtype: floating dtype of the result.
        device: where to make it.

    Returns:
        ``(H, W)`` tensor.

    Raises:
        SpectralValueError: a size that is not two positive ints, a non-integer frequency.
        SpectralTypeError: a non-floating dtype.

    Shape:
        - Output: :math:`(H, W)`

    Examples:
        >>> u = fourier_basis((8, 8), (0, 2), dtype=torch.float64)
        >>> round(float(u.square().sum()), 12), tuple(torch.fft.fft2(u).abs().argmax(-1)[0:1])
        (1.0, (tensor(2),))
    """
    h, w = _check_size(size)
    if (
        not isinstance(freq, tuple | list)
        or len(freq) != 2
        or not all(isinstance(k, int | np.integer) and not isinstance(k, bool) for k in freq)
    ):
        raise SpectralValueError(f"freq: expected (k_y, k_x) as two ints, got {freq!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise SpectralTypeError(f"dtype: expected a floating torch dtype, got {dtype!r}")
    ky = torch.tensor([int(freq[0]) % h], device=device)  # exact integer aliasing
    kx = torch.tensor([int(freq[1]) % w], device=device)
    return _bases((h, w), ky, kx, dtype)[0]


def _unique_frequencies(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centred cells ``(rows, cols)`` with one representative per mirror pair, and mirrors.

    Cell ``(r, c)`` of the centred map holds frequency ``k_y = r - H // 2``,
    ``k_x = c - W // 2`` (the ``fftshift`` layout); its mirror ``(-k_y, -k_x)`` lives at
    ``((H // 2 - k_y) mod H ...)`` i.e. at ``((-k_y) mod H + H // 2) mod H``.
    """
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    ky, kx = r - h // 2, c - w // 2
    mr = ((-ky) % h + h // 2) % h
    mc = ((-kx) % w + w // 2) % w
    keep = (r * w + c) <= (mr * w + mc)
    return r[keep], c[keep], mr[keep], mc[keep]


#: Largest automatic batch of perturbed images per forward pass (see fourier_heatmap).
HEATMAP_MAX_BATCH = 64


def fourier_heatmap(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 4.0,
    batch_size: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Error rate of ``model`` under each Fourier basis perturbation (Yin et al. 2019).

    For every frequency, each image ``x`` becomes ``clip(x + eps * r_c * U, 0, 1)`` with
    ``U`` the unit-norm basis of :func:`fourier_basis` and ``r_c`` a random sign drawn per
    image and channel; the map holds the fraction of perturbed images whose prediction is
    not their label. ``eps`` is the L2 norm of the perturbation of one channel (before
    clipping): Yin et al. use 4 on CIFAR-10-sized images.

    Args:
        model: classifier on ``(B, C, H, W)`` images in ``[0, 1]`` returning logits
            ``(B, K)``; evaluated in eval mode and left as found.
        images: ``(N, C, H, W)`` test images.
        labels: ``(N,)`` integer labels.
        eps: L2 norm of each channel's perturbation (> 0).
        batch_size: perturbed images per forward pass; several frequencies share a pass
            when ``N`` is smaller; None (default) sizes it from the free memory
            (:func:`~spectral.metrics.auto_batch_size`, forward passes only), at most
            :data:`HEATMAP_MAX_BATCH` (larger batches measured slower on the CPU: 100
            32x32 images, builtin:standard, 36-50 s at 64 against 60-65 s at 256).
        seed: seed (>= 0) of the random signs; each frequency draws its own from
            ``numpy.random.default_rng([seed, index])``, so the map does not depend on
            ``batch_size``.
        progress: called with ``(done, total)`` frequency pairs after each pass.

    Returns:
        ``(H, W)`` error rates in ``[0, 1]`` on ``images``' device, centred like
        :func:`spectral.magnitude_spectrum` (``k_y = row - H // 2``,
        ``k_x = col - W // 2``; DC at ``(H // 2, W // 2)``).

    Raises:
        SpectralTypeError: not a model, not float images, non-integer labels, a non-int
            ``batch_size``, or a ``progress`` that is not callable.
        SpectralValueError: bad shapes, NaN, labels out of the model's range, bad eps,
            a ``seed`` that is not an int >= 0, ``batch_size < 1``.

    Shape:
        - images: :math:`(N, C, H, W)`
        - labels: :math:`(N,)`
        - Output: :math:`(H, W)`

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
        >>> x, y = torch.rand(5, 3, 8, 8), torch.zeros(5, dtype=torch.long)
        >>> fourier_heatmap(net, x, y, eps=1.0).shape
        torch.Size([8, 8])
    """
    check_model(model)
    check_images(images, "images", unit_range=True)
    check_labels(labels, images)
    if batch_size is not None:
        check_batch_size(batch_size)
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < math.inf:
        raise SpectralValueError(f"eps: expected a finite number > 0, got {eps!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpectralValueError(f"seed: expected an int >= 0, got {seed!r}")
    if progress is not None and not callable(progress):
        raise SpectralTypeError(f"progress: expected a callable, got {type(progress).__name__}")
    bs = resolve_batch_size(batch_size, model, images, backward=False, maximum=HEATMAP_MAX_BATCH)
    n, c, h, w = images.shape
    dev, dtype = images.device, images.dtype
    rows, cols, mrows, mcols = _unique_frequencies(h, w)
    total = len(rows)
    ky_all = torch.from_numpy(rows - h // 2).to(dev)
    kx_all = torch.from_numpy(cols - w // 2).to(dev)
    per_image = min(n, bs)
    per_pass = max(1, bs // per_image)
    errors = torch.zeros(total, dtype=torch.float64)

    def wrong_counts(u: torch.Tensor, signs: torch.Tensor, fast: bool) -> torch.Tensor:
        fmt = torch.channels_last if fast else torch.contiguous_format
        wrong = torch.zeros(u.shape[0], dtype=torch.float64)
        for i0 in range(0, n, per_image):
            i1 = min(n, i0 + per_image)
            pert = signs[:, i0:i1, :, None, None] * u[:, None, None]
            batch = (images[None, i0:i1] + pert).clamp_(0, 1).reshape(-1, c, h, w)
            logits = model_logits(model, batch.contiguous(memory_format=fmt), labels)
            pred = logits.argmax(1).reshape(u.shape[0], i1 - i0)
            wrong += (pred != labels[None, i0:i1]).sum(1).cpu().double()
        return wrong

    def chunk(k0: int, k1: int) -> tuple[torch.Tensor, torch.Tensor]:
        u = _bases((h, w), ky_all[k0:k1], kx_all[k0:k1], dtype) * float(eps)
        draws = [np.random.default_rng([seed, k]).integers(0, 2, (n, c)) for k in range(k0, k1)]
        signs = torch.from_numpy(np.stack(draws)).to(device=dev, dtype=dtype).mul_(2).sub_(1)
        return u, signs

    starts = range(0, total, per_pass)
    with model_left_as_found(model), torch.no_grad():
        set_eval(model)
        # channels-last is a CPU speed-up; a model it breaks (e.g. one that flattens with
        # .view) fails on the first pass and then runs in the default layout
        fast, k1 = dev.type == "cpu", min(total, per_pass)
        u, signs = chunk(0, k1)
        first = None
        if fast:
            try:
                with channels_last(model, True):
                    first = wrong_counts(u, signs, True)
            except (RuntimeError, SpectralValueError):
                fast = False
        errors[:k1] = (first if first is not None else wrong_counts(u, signs, False)) / n
        if progress is not None:
            progress(k1, total)
        with channels_last(model, fast):
            for k0 in starts[1:]:
                k1 = min(total, k0 + per_pass)
                errors[k0:k1] = wrong_counts(*chunk(k0, k1), fast) / n
                if progress is not None:
                    progress(k1, total)
    heat = torch.zeros(h, w, dtype=torch.float64)
    heat[rows, cols] = errors
    heat[mrows, mcols] = errors
    return heat.to(device=dev, dtype=dtype)
