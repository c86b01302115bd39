"""Streaming mean/variance of spectra over data sets too large for memory."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from spectral._internal.validate import check_images, check_transform_finite
from spectral.distributed import all_gather_objects
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.fourier.backends import Backend, parse_backend, resolve_backend
from spectral.fourier.engine import expand_half_torch, map_half_spectra

__all__ = ["SpectrumAccumulator"]


def _batch_stats_torch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    f = torch.fft.rfft2(x)
    check_transform_finite(f, x, "batch")
    p = (f.real.square() + f.imag.square()).to(torch.float64)
    mean = p.mean(0)
    return mean, (p - mean).square().sum(0)


# Whole images per chunk; larger chunks amortise the per-chunk reductions (benchmarks/fft.py).
_CHUNK_BYTES = 2 * 1024 * 1024


_FLUSH_EVERY = 64  # images summed in the input's precision before folding into float64


def _batch_stats_cpu(x: torch.Tensor, backend: Backend) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and sum of squared deviations over the batch of the unscaled power |F|^2.

    Each chunk's power is shifted by the power of the batch's first image before the
    sums are taken, which keeps ``S2 - S1^2 / n`` free of catastrophic cancellation.
    Sums run in the input's precision in cache-resident buffers and are folded into
    float64 every ``_FLUSH_EVERY`` images (float32 partial sums of at most 64 shifted
    terms carry a relative error of about 1e-6).
    """
    a = x.detach().contiguous().numpy()
    n = a.shape[0]
    with np.errstate(all="ignore"):  # a non-finite batch is reported by the engine
        f0 = np.fft.rfft2(a[0])
        shift = (f0.real**2 + f0.imag**2).astype(a.dtype)

    def init() -> dict[str, Any]:
        return {
            "s1": np.zeros(shift.shape),
            "s2": np.zeros(shift.shape),
            "p1": np.zeros_like(shift),
            "p2": np.zeros_like(shift),
            "t": np.empty_like(shift),
            "pending": 0,
            "bufs": {},
        }

    def flush(st: dict[str, Any]) -> None:
        for acc, part in (("s1", "p1"), ("s2", "p2")):
            np.add(st[acc], st[part], out=st[acc])
            st[part].fill(0)
        st["pending"] = 0

    def fn(st: dict[str, Any], half: np.ndarray, lo: int, hi: int) -> None:
        p = st["bufs"].get(half.shape)
        if p is None:
            p = st["bufs"][half.shape] = np.empty(half.shape, dtype=a.dtype)
        np.abs(half, out=p)
        np.multiply(p, p, out=p)
        np.subtract(p, shift, out=p)
        for part in ("p1", "p2"):
            if part == "p2":
                np.multiply(p, p, out=p)
            if hi - lo == 1:
                np.add(st[part], p[0], out=st[part])
            else:
                np.add.reduce(p, axis=0, out=st["t"])
                np.add(st[part], st["t"], out=st[part])
        st["pending"] += hi - lo
        if st["pending"] >= _FLUSH_EVERY:
            flush(st)

    states = map_half_spectra(a, backend, fn, init, name="batch", chunk_bytes=_CHUNK_BYTES)
    for st in states:
        flush(st)
    s1 = sum(st["s1"] for st in states)
    s2 = sum(st["s2"] for st in states)
    mean = shift + s1 / n
    m2 = np.maximum(s2 - s1 * s1 / n, 0.0)
    return torch.from_numpy(mean), torch.from_numpy(m2)


class SpectrumAccumulator:
    """Per-frequency mean and variance of power spectra over any number of batches.

    Feed batches with :meth:`update`; memory stays at three half-spectra
    ``(C, H, W // 2 + 1)`` in float64 however many images pass through. Accumulators
    filled apart (shards, workers) combine exactly with :meth:`merge` (Chan et al.'s
    parallel update), and :meth:`state_dict` / :meth:`load_state_dict` save and restore
    them. Spectra are ``|F|^2 / (H * W)`` as in :func:`spectral.power_spectrum`.

    Args:
        backend: FFT backend for :meth:`update` (see :mod:`spectral.fft`).

    Examples:
        >>> acc = SpectrumAccumulator()
        >>> x = torch.rand(10, 3, 8, 8, dtype=torch.float64)
        >>> _ = acc.update(x[:4]).update(x[4:])
        >>> acc.count
        10
        >>> from spectral import power_spectrum
        >>> torch.allclose(acc.mean(), power_spectrum(x).mean(0))
        True
        >>> torch.allclose(acc.var(), power_spectrum(x).var(0))
        True
    """

    def __init__(self, *, backend: str | Backend = "auto") -> None:
        self._backend = parse_backend(backend)
        self._count = 0
        self._mean: torch.Tensor | None = None  # half spectrum, float64, scaled
        self._m2: torch.Tensor | None = None
        self._shape: tuple[int, int, int] | None = None
        self._dtype: torch.dtype | None = None

    @property
    def count(self) -> int:
        """Number of images accumulated so far."""
        return self._count

    @property
    def shape(self) -> tuple[int, int, int] | None:
        """``(C, H, W)`` of the accumulated images, ``None`` before the first update."""
        return self._shape

    def _check_compatible(self, shape: tuple[int, int, int], what: str) -> None:
        if self._shape is not None and shape != self._shape:
            raise SpectralValueError(
                f"{what}: expected images of shape (C, H, W) = {self._shape} like those "
                f"accumulated so far, got {shape}"
            )

    def _combine(self, n_b: int, mean_b: torch.Tensor, m2_b: torch.Tensor) -> None:
        if self._mean is None or self._m2 is None:
            self._count, self._mean, self._m2 = n_b, mean_b, m2_b
            return
        mean_b, m2_b = mean_b.to(self._mean.device), m2_b.to(self._mean.device)
        n_a = self._count
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + delta.square() * (n_a * n_b / n)
        self._count = n

    def update(self, batch: torch.Tensor) -> SpectrumAccumulator:
        """Add the power spectra of a batch ``(B, C, H, W)``; returns ``self``.

        Raises:
            SpectralTypeError: not a real float32/float64 tensor.
            SpectralValueError: bad shape, NaN/Inf, ``(C, H, W)`` or device differing
                from earlier batches.
        """
        x = check_images(batch, "batch", check_finite=False).detach()
        shape = (x.shape[1], x.shape[2], x.shape[3])
        self._check_compatible(shape, "batch")
        if self._mean is not None and x.device != self._mean.device:
            raise SpectralValueError(
                f"batch: expected device {self._mean.device} like earlier batches, got {x.device}"
            )
        backend = resolve_backend(self._backend, x)
        if backend is Backend.TORCH:
            mean_b, m2_b = _batch_stats_torch(x)
        else:
            mean_b, m2_b = _batch_stats_cpu(x.cpu(), backend)
            mean_b, m2_b = mean_b.to(x.device), m2_b.to(x.device)
        scale = 1.0 / (shape[1] * shape[2])
        if self._shape is None:
            self._shape, self._dtype = shape, x.dtype
        self._combine(x.shape[0], mean_b * scale, m2_b * scale**2)
        return self

    def merge(self, other: SpectrumAccumulator) -> SpectrumAccumulator:
        """Fold ``other``'s images into this accumulator (``other`` is unchanged); returns ``self``.

        ``a.merge(b)`` equals one accumulator fed all of a's and b's batches, and merging
        is associative.

        Raises:
            SpectralTypeError: ``other`` is not a :class:`SpectrumAccumulator`.
            SpectralValueError: image shapes differ.
        """
        if not isinstance(other, SpectrumAccumulator):
            raise SpectralTypeError(
                f"other: expected a SpectrumAccumulator, got {type(other).__name__}"
            )
        if other._mean is None or other._m2 is None:
            return self
        assert other._shape is not None
        self._check_compatible(other._shape, "other")
        if self._shape is None:
            self._shape, self._dtype = other._shape, other._dtype
        self._combine(other._count, other._mean.clone(), other._m2.clone())
        return self

    def merge_ranks(self) -> SpectrumAccumulator:
        """A new accumulator of every rank's images, merged in rank order.

        Under ``torch.distributed`` each rank accumulates its shard of the images and calls
        this (all ranks must): the result equals one accumulator fed every shard, to
        round-off, on every rank, on this accumulator's device. With no group: a copy.

        Examples:
            >>> acc = SpectrumAccumulator().update(torch.rand(3, 1, 4, 4))
            >>> acc.merge_ranks().count
            3
        """
        state = self.state_dict()
        dev = self._mean.device if self._mean is not None else torch.device("cpu")
        for k in ("mean", "m2"):
            state[k] = None if state[k] is None else state[k].cpu()
        out = SpectrumAccumulator(backend=self._backend)
        for st in all_gather_objects(state):
            part = SpectrumAccumulator(backend=self._backend).load_state_dict(st)
            if part._mean is not None and part._m2 is not None:
                part._mean, part._m2 = part._mean.to(dev), part._m2.to(dev)
            out.merge(part)
        return out

    def _full(self, half: torch.Tensor, center: bool) -> torch.Tensor:
        assert self._shape is not None and self._dtype is not None
        return expand_half_torch(half, self._shape[2], center=center).to(self._dtype)

    def _require(self, at_least: int, what: str) -> tuple[torch.Tensor, torch.Tensor]:
        if self._mean is None or self._m2 is None or self._count < at_least:
            raise SpectralValueError(
                f"{what}: needs at least {at_least} accumulated image(s), have {self._count}"
            )
        return self._mean, self._m2

    def mean(self, *, center: bool = True) -> torch.Tensor:
        """Mean power spectrum ``(C, H, W)`` (``fftshift``-ed unless ``center=False``).

        Raises:
            SpectralValueError: nothing accumulated yet.
        """
        mean, _ = self._require(1, "mean()")
        return self._full(mean, center)

    def var(self, *, correction: int = 1, center: bool = True) -> torch.Tensor:
        """Per-frequency variance ``(C, H, W)`` over images, ``M2 / (count - correction)``.

        Args:
            correction: 1 for the unbiased sample variance (as ``torch.var``), 0 for the
                population variance.
            center: ``fftshift`` the result.

        Raises:
            SpectralValueError: ``count <= correction``.
        """
        _, m2 = self._require(correction + 1, "var()")
        return self._full(m2 / (self._count - correction), center)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore or merge later: count, shape, dtype, half spectra."""
        return {
            "count": self._count,
            "shape": self._shape,
            "dtype": None if self._dtype is None else str(self._dtype).removeprefix("torch."),
            "mean": None if self._mean is None else self._mean.clone(),
            "m2": None if self._m2 is None else self._m2.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> SpectrumAccumulator:
        """Restore a :meth:`state_dict`; returns ``self``.

        Raises:
            SpectralValueError: missing keys or inconsistent shapes.
        """
        missing = {"count", "shape", "dtype", "mean", "m2"} - set(state)
        if missing:
            raise SpectralValueError(f"state: missing keys {sorted(missing)}")
        count = int(state["count"])
        if count == 0:
            self.__init__(backend=self._backend)  # type: ignore[misc]
            return self
        c, h, w = (int(v) for v in state["shape"])
        mean, m2 = state["mean"], state["m2"]
        expected = (c, h, w // 2 + 1)
        for name, t in (("mean", mean), ("m2", m2)):
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != expected:
                got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise SpectralValueError(f"state[{name!r}]: expected shape {expected}, got {got}")
        dtype = getattr(torch, str(state["dtype"]), None)
        if dtype not in (torch.float32, torch.float64):
            raise SpectralValueError(
                f"state['dtype']: expected 'float32' or 'float64', got {state['dtype']!r}"
            )
        self._count, self._shape, self._dtype = count, (c, h, w), dtype
        self._mean, self._m2 = mean.to(torch.float64).clone(), m2.to(torch.float64).clone()
        return self

    def __repr__(self) -> str:
        return f"SpectrumAccumulator(count={self._count}, shape={self._shape})"
