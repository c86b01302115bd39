"""Fourier heat maps (Yin et al. 2019): error rate under each Fourier basis image."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.checkpoint import Checkpoint, fingerprint
from spectral._internal.modelstate import channels_last, model_left_as_found, model_logits, set_eval
from spectral._internal.validate import (
    check_batch_size,
    check_images,
    check_labels,
    check_model,
)
from spectral.analysis.heatmap_subset import _check_size, _check_subset, _unique_frequencies
from spectral.distributed import all_reduce_sum, rank_and_size, shard_of
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = [
    "fourier_basis",
    "fourier_heatmap",
]


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


#: Largest automatic batch of perturbed images per forward pass (see fourier_heatmap).
HEATMAP_MAX_BATCH = 64
#: The same cap on a GPU, where large batches are what make it fast.
HEATMAP_MAX_BATCH_GPU = 4096


def fourier_heatmap(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 4.0,
    batch_size: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    step: int = 1,
    max_radius: float | None = None,
    frequencies: Sequence[tuple[int, int]] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: float = 60.0,
    precision: str = "float32",
) -> torch.Tensor:
    """Error rate of ``model`` under each Fourier basis perturbation (Yin et al. 2019).

    For every frequency, each image ``x`` becomes ``clip(x + eps * r_c * U, 0, 1)`` with
    ``U`` the unit-norm basis of :func:`fourier_basis` and ``r_c`` a random sign drawn per
    image and channel; the map holds the fraction of perturbed images whose prediction is
    not their label. ``eps`` is the L2 norm of the perturbation of one channel (before
    clipping): Yin et al. use 4 on CIFAR-10-sized images.

    A frequency subset (``step``, ``max_radius``, ``frequencies``; see
    :func:`heatmap_cells`) evaluates only some cells, for maps of large images (a
    224x224 map has 25,090 mirror pairs): the others are NaN. The random signs of a
    frequency do not depend on the subset, so a subsampled map equals the full map (same
    seed) at the kept cells.

    Under ``torch.distributed`` (see :mod:`spectral.distributed`) each rank evaluates
    its shard of the images and the error counts are summed; every rank returns the map,
    equal to a one-process run's (the signs are drawn per image).

    With ``checkpoint``, the counts so far are saved to that file every
    ``checkpoint_every`` seconds and when the run is interrupted (an exception, Ctrl-C,
    SIGTERM turned into ``SystemExit``); a later call with the same file, model, images
    and options continues from it and returns the map an uninterrupted run returns. The
    file is removed when the map is complete. Under several ranks each rank keeps its own
    file (``.rank{r}of{n}`` appended).

    Args:
        model: classifier on ``(B, C, H, W)`` images in ``[0, 1]`` returning logits
            ``(B, K)``; evaluated in eval mode and left as found.
        images: ``(N, C, H, W)`` test images.
        labels: ``(N,)`` integer labels.
        eps: L2 norm of each channel's perturbation (> 0).
        batch_size: perturbed images per forward pass; several frequencies share a pass
            when ``N`` is smaller; None (default) sizes it from the free memory
            (:func:`~spectral.metrics.auto_batch_size`, forward passes only), at most
            :data:`HEATMAP_MAX_BATCH` on the CPU (larger batches measured slower there: 100
            32x32 images, builtin:standard, 36-50 s at 64 against 60-65 s at 256) and
            :data:`HEATMAP_MAX_BATCH_GPU` on a GPU.
        seed: seed (>= 0) of the random signs; frequency ``k`` (its index among the
            mirror pairs of the full map, row-major) draws the signs of all ``N`` images
            from ``numpy.random.default_rng([seed, k])``, so the map does not depend on
            ``batch_size``, the subset or the number of ranks.
        progress: called with ``(done, total)`` frequency pairs after each pass.
        step: evaluate every ``step``-th frequency on each axis.
        max_radius: evaluate only frequencies with ``|k| <= max_radius`` (cycles per
            image).
        frequencies: evaluate only these ``(k_y, k_x)`` (and their mirrors).
        checkpoint: file for resumable runs, or None.
        checkpoint_every: seconds between saves (>= 0; 0 saves after every pass).
        precision: ``"float32"`` (default) or ``"bfloat16"``: the model runs under
            ``torch.autocast`` in bfloat16 (the perturbed images are made in the images'
            dtype). Several times faster on GPUs and on CPUs with AMX, much slower on
            CPUs without it; a prediction near a tie may flip, so cells can differ from
            the float32 map by a few images.

    Returns:
        ``(H, W)`` error rates in ``[0, 1]`` (NaN outside the subset) on ``images``'
        device, centred like :func:`spectral.magnitude_spectrum` (``k_y = row - H // 2``,
        ``k_x = col - W // 2``; DC at ``(H // 2, W // 2)``).

    Raises:
        SpectralTypeError: not a model, not float images, non-integer labels, a non-int
            ``batch_size``, or a ``progress`` that is not callable.
        SpectralValueError: bad shapes, NaN, labels out of the model's range, bad eps,
            a ``seed`` that is not an int >= 0, ``batch_size < 1``, a bad subset, a
            ``checkpoint`` of another run, more ranks than images.

    Shape:
        - images: :math:`(N, C, H, W)`
        - labels: :math:`(N,)`
        - Output: :math:`(H, W)`

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
        >>> x, y = torch.rand(5, 3, 8, 8), torch.zeros(5, dtype=torch.long)
        >>> fourier_heatmap(net, x, y, eps=1.0).shape
        torch.Size([8, 8])
        >>> int(fourier_heatmap(net, x, y, eps=1.0, step=2).isnan().sum())  # 16 of 64 kept
        48
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
    if (
        isinstance(checkpoint_every, bool)
        or not isinstance(checkpoint_every, int | float)
        or not 0 <= checkpoint_every < math.inf
    ):
        raise SpectralValueError(
            f"checkpoint_every: expected seconds >= 0, got {checkpoint_every!r}"
        )
    if precision not in ("float32", "bfloat16"):
        raise SpectralValueError(f"precision: expected 'float32' or 'bfloat16', got {precision!r}")
    low = precision == "bfloat16"
    n_all, c, h, w = images.shape
    keep = _check_subset((h, w), step, max_radius, frequencies)
    idx, x_mine, y_mine = shard_of(images, labels)
    mine = idx.cpu().numpy()
    rank, world = rank_and_size()
    rows, cols, mrows, mcols = _unique_frequencies(h, w)
    chosen = np.flatnonzero(keep[rows, cols])  # indices k into the full list of pairs
    total = len(chosen)
    dev, dtype = images.device, images.dtype
    n = len(mine)
    ckpt = None
    if checkpoint is not None:
        path = Path(checkpoint)
        if world > 1:
            path = path.with_name(f"{path.name}.rank{rank}of{world}")
        key = fingerprint(
            model, x_mine, y_mine, float(eps), seed, chosen.tolist(), rank, world, precision
        )
        ckpt = Checkpoint(path, key, total, float(checkpoint_every))
    wrong = ckpt.wrong if ckpt is not None else torch.zeros(total, dtype=torch.int64)
    done = ckpt.done if ckpt is not None else np.zeros(total, dtype=bool)
    cap = HEATMAP_MAX_BATCH if images.device.type == "cpu" else HEATMAP_MAX_BATCH_GPU
    bs = resolve_batch_size(batch_size, model, images, backward=False, maximum=cap)
    ky_all = torch.from_numpy(rows - h // 2).to(dev)
    kx_all = torch.from_numpy(cols - w // 2).to(dev)
    per_image = min(n, bs)
    per_pass = max(1, bs // per_image)

    def wrong_counts(u: torch.Tensor, signs: torch.Tensor, fast: bool) -> torch.Tensor:
        fmt = torch.channels_last if fast else torch.contiguous_format
        counts = torch.zeros(u.shape[0], dtype=torch.int64)
        for i0 in range(0, n, per_image):
            i1 = min(n, i0 + per_image)
            pert = signs[:, i0:i1, :, None, None] * u[:, None, None]
            batch = (x_mine[None, i0:i1] + pert).clamp_(0, 1).reshape(-1, c, h, w)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=low):
                logits = model_logits(model, batch.contiguous(memory_format=fmt), y_mine)
            pred = logits.argmax(1).reshape(u.shape[0], i1 - i0)
            counts += (pred != y_mine[None, i0:i1]).sum(1).cpu()
        return counts

    def chunk(ks: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        kt = torch.from_numpy(ks).to(dev)
        u = _bases((h, w), ky_all[kt], kx_all[kt], dtype) * float(eps)
        draws = [np.random.default_rng([seed, int(k)]).integers(0, 2, (n_all, c))[mine] for k in ks]
        signs = torch.from_numpy(np.stack(draws)).to(device=dev, dtype=dtype).mul_(2).sub_(1)
        return u, signs

    todo = np.flatnonzero(~done)
    passes = [todo[i : i + per_pass] for i in range(0, len(todo), per_pass)]
    try:
        with model_left_as_found(model), torch.no_grad():
            set_eval(model)
            # channels-last is a CPU speed-up; a model it breaks (e.g. one that flattens
            # with .view) fails on the first pass and then runs in the default layout
            fast = dev.type == "cpu"

            def run(sel: np.ndarray, first: torch.Tensor | None = None) -> None:
                wrong[sel] = wrong_counts(*chunk(chosen[sel]), fast) if first is None else first
                done[sel] = True
                if ckpt is not None:
                    ckpt.save()
                if progress is not None:
                    progress(int(done.sum()), total)

            first = None
            if fast and passes:
                try:
                    with channels_last(model, True):
                        first = wrong_counts(*chunk(chosen[passes[0]]), True)
                except (RuntimeError, SpectralValueError):
                    fast = False
            with channels_last(model, fast):
                for i, sel in enumerate(passes):
                    run(sel, first if i == 0 else None)
    except BaseException:
        if ckpt is not None:
            ckpt.save(force=True)
        raise
    counts = all_reduce_sum(wrong)
    errors = counts.double() / n_all
    heat = torch.full((h, w), math.nan, dtype=torch.float64)
    heat[rows[chosen], cols[chosen]] = errors
    heat[mrows[chosen], mcols[chosen]] = errors
    if ckpt is not None:
        ckpt.path.unlink(missing_ok=True)
    return heat.to(device=dev, dtype=dtype)
