"""What a loader reads: the subset (chosen from the labels alone) and the size to fit it to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from spectral._internal.validate import check_int, parse_enum
from spectral.data.dataset import subset_indices
from spectral.data.resize import ResizeMode, parse_image_size, resize_images

__all__: list[str] = []

_CHUNK = 64  # images decoded/converted/resized at a time when copying into the result


@dataclass(frozen=True)
class _Pick:
    """The loader options shared by every source (validated once)."""

    n_images: int | None = None
    seed: int = 0
    size: int | tuple[int, int] | None = None
    mode: ResizeMode = ResizeMode.RESIZE

    def indices(self, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
        """All indices in file order, or those of ``ImageDataset.subset(n_images, seed)``."""
        if self.n_images is None:
            return torch.arange(len(labels))
        return subset_indices(labels, n_classes, self.n_images, seed=self.seed)

    def fit(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` resized to the requested size (unchanged when none was given)."""
        return x if self.size is None else resize_images(x, self.size, mode=self.mode)

    def gather(
        self,
        idx: np.ndarray,
        rows: Callable[[np.ndarray], torch.Tensor],
        empty: tuple[int, int, int] = (0, 0, 0),
    ) -> torch.Tensor:
        """Stack ``fit(rows(chunk))`` over chunks of ``idx``; only one chunk is decoded at once.

        ``empty`` is the ``(C, H, W)`` of the result when ``idx`` is empty.
        """
        out: torch.Tensor | None = None
        for start in range(0, len(idx), _CHUNK):
            part = self.fit(rows(idx[start : start + _CHUNK]))
            if out is None:
                out = torch.empty((len(idx), *part.shape[1:]), dtype=torch.float32)
            out[start : start + len(part)] = part
        return torch.empty((0, *empty)) if out is None else out


def make_pick(n_images: Any, seed: Any, image_size: Any, resize: Any) -> _Pick:
    """Validate the loader options into a :class:`_Pick`.

    Raises:
        SpectralTypeError: an option of the wrong type.
        SpectralValueError: ``n_images < 1``, a size side below 1, an unknown ``resize``.
    """
    n = None if n_images is None else check_int(n_images, "n_images", 1)
    s = check_int(seed, "seed")
    size: int | tuple[int, int] | None = None
    if image_size is not None:
        pair = parse_image_size(image_size)
        size = pair[0] if isinstance(image_size, int) else pair
    return _Pick(n, s, size, parse_enum(resize, ResizeMode, "resize"))
