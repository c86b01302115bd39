"""Which cells of a centred Fourier heat map are evaluated: mirror pairs and frequency subsets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from spectral.errors import SpectralValueError

__all__ = ["heatmap_cells", "heatmap_pairs"]


def _check_size(size: Any) -> tuple[int, int]:
    if (
        not isinstance(size, tuple | list)
        or len(size) != 2
        or not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in size)
        or min(size) < 1
    ):
        raise SpectralValueError(f"size: expected (H, W) with positive ints, got {size!r}")
    return int(size[0]), int(size[1])


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


def _check_subset(
    size: tuple[int, int], step: Any, max_radius: Any, frequencies: Any
) -> np.ndarray:
    """``(H, W)`` bool mask of the centred cells a subset keeps (mirror-symmetric)."""
    h, w = size
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
        raise SpectralValueError(f"step: expected an int >= 1, got {step!r}")
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    ky, kx = r - h // 2, c - w // 2
    keep = (ky % int(step) == 0) & (kx % int(step) == 0)
    if max_radius is not None:
        if (
            isinstance(max_radius, bool)
            or not isinstance(max_radius, int | float | np.integer | np.floating)
            or not 0 <= float(max_radius) < math.inf
        ):
            raise SpectralValueError(
                f"max_radius: expected a number >= 0 (cycles per image), got {max_radius!r}"
            )
        keep &= ky**2 + kx**2 <= float(max_radius) ** 2
    if frequencies is not None:
        listed = np.zeros((h, w), dtype=bool)
        try:
            pairs = [(int(a), int(b)) for a, b in frequencies]
            ok = all(
                isinstance(v, int | np.integer) and not isinstance(v, bool)
                for pair in frequencies
                for v in pair
            )
        except (TypeError, ValueError):
            ok, pairs = False, []
        if not ok or not pairs:
            raise SpectralValueError(
                "frequencies: expected a non-empty list of (k_y, k_x) int pairs, "
                f"got {frequencies!r}"
            )
        for a, b in pairs:  # +Nyquist (k = H / 2 on an even side) is the cell of -H / 2
            if not (abs(a) <= h // 2 and abs(b) <= w // 2):
                raise SpectralValueError(
                    f"frequencies: ({a}, {b}) is outside the {h}x{w} map "
                    f"(|k_y| <= {h // 2}, |k_x| <= {w // 2})"
                )
            listed[(a + h // 2) % h, (b + w // 2) % w] = True
            listed[(h // 2 - a) % h, (w // 2 - b) % w] = True  # the mirror (-k_y, -k_x)
        keep &= listed
    if not keep.any():
        raise SpectralValueError("the frequency subset keeps no frequency of the map")
    return keep


def heatmap_cells(
    size: tuple[int, int],
    *,
    step: int = 1,
    max_radius: float | None = None,
    frequencies: Sequence[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Which cells of a centred ``(H, W)`` heat map a frequency subset evaluates.

    A cell ``(row, col)`` holds frequency ``k_y = row - H // 2``, ``k_x = col - W // 2``
    (cycles per image). The subset keeps the cells that pass every criterion given:

    * ``step``: ``k_y`` and ``k_x`` both multiples of ``step`` (every k-th frequency on
      each axis, DC included);
    * ``max_radius``: ``sqrt(k_y^2 + k_x^2) <= max_radius`` (cycles per image; a
      224-pixel image has Nyquist 112);
    * ``frequencies``: the listed ``(k_y, k_x)`` and their mirrors ``(-k_y, -k_x)``.

    Every criterion is symmetric under ``k -> -k``, like the map itself (a basis and its
    mirror are the same image).

    Args:
        size: ``(H, W)``.
        step: keep every ``step``-th frequency on each axis (>= 1).
        max_radius: largest radius kept, or None.
        frequencies: an explicit list, or None.

    Returns:
        ``(H, W)`` bool mask.

    Raises:
        SpectralValueError: a bad size, ``step < 1``, a negative or non-finite radius, a
            listed frequency outside the map, or a subset that keeps nothing.

    Examples:
        >>> int(heatmap_cells((8, 8), step=4).sum())  # k in {-4, 0} on each axis
        4
        >>> [c.tolist() for c in heatmap_cells((8, 8), frequencies=[(0, 1)]).nonzero()]
        [[4, 4], [3, 5]]
    """
    return _check_subset(_check_size(size), step, max_radius, frequencies)


def heatmap_pairs(cells: np.ndarray) -> int:
    """How many frequency pairs ``{k, -k}`` a cell mask holds: one model pass per image each.

    Args:
        cells: ``(H, W)`` bool mask, e.g. from :func:`heatmap_cells` (a full map:
            ``numpy.ones``).

    Returns:
        The number of mirror pairs with a kept cell.

    Examples:
        >>> heatmap_pairs(np.ones((32, 32), dtype=bool))
        514
        >>> heatmap_pairs(heatmap_cells((8, 8), step=4))  # four self-mirrored cells
        4
    """
    rows, cols, _, _ = _unique_frequencies(*cells.shape)
    return int(np.count_nonzero(cells[rows, cols]))
