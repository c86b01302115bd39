"""The labelled image batch every loader returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch
from torch.utils.data import Dataset

from spectral._internal.validate import parse_enum
from spectral.errors import SpectralValueError

__all__ = ["ImageDataset", "Split", "subset_indices"]


class Split(str, Enum):
    """Which part of a dataset to load."""

    TRAIN = "train"
    TEST = "test"


@dataclass(frozen=True, eq=False)
class ImageDataset(Dataset[tuple[torch.Tensor, int]]):
    """Images ``(N, C, H, W)`` float32 in [0, 1] with integer labels and class names.

    Attributes:
        images: the images.
        labels: ``(N,)`` int64 labels in ``[0, len(classes))``.
        classes: class names, indexed by label.
        name: where the data came from (for reports).
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.float32:
            raise SpectralValueError(
                f"images: expected float32 (N, C, H, W), got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )
        if self.labels.dtype != torch.int64:
            raise SpectralValueError(f"labels: expected dtype int64, got {self.labels.dtype}")
        if not all(isinstance(c, str) for c in self.classes):
            raise SpectralValueError(f"classes: expected names (str), got {self.classes!r}")
        if self.labels.shape != (self.images.shape[0],):
            raise SpectralValueError(
                f"labels: expected shape ({self.images.shape[0]},) matching the images, got "
                f"{tuple(self.labels.shape)}"
            )
        if len(self.labels) and (
            int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)
        ):
            raise SpectralValueError(
                f"labels: expected values in [0, {len(self.classes)}), got "
                f"[{int(self.labels.min())}, {int(self.labels.max())}]"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])

    def subset(self, n: int, *, seed: int = 0, stratified: bool = True) -> ImageDataset:
        """The first ``n`` images of a seeded permutation, balanced over classes if asked.

        Raises:
            SpectralValueError: ``n < 1``.
        """
        idx = subset_indices(self.labels, len(self.classes), n, seed=seed, stratified=stratified)
        return ImageDataset(self.images[idx], self.labels[idx], self.classes, self.name)


def subset_indices(
    labels: torch.Tensor, n_classes: int, n: int, *, seed: int = 0, stratified: bool = True
) -> torch.Tensor:
    """Indices of :meth:`ImageDataset.subset`: computed from the labels alone.

    The first ``n`` entries of a seeded permutation of ``range(len(labels))``; with
    ``stratified``, the permutation is reordered so the classes are interleaved (the
    ``k``-th image of class ``c`` in permutation order gets rank ``k * n_classes + c``),
    so any prefix is as balanced as possible. The loaders use this to pick a subset
    before decoding any image.

    Args:
        labels: ``(N,)`` integer labels in ``[0, n_classes)``.
        n_classes: number of classes.
        n: how many indices (at most ``N`` are returned).
        seed: seed of the permutation.
        stratified: interleave the classes.

    Returns:
        ``(min(n, N),)`` int64 indices into ``labels``, in subset order.

    Raises:
        SpectralValueError: ``n`` not an int >= 1.

    Examples:
        >>> labels = torch.tensor([0, 0, 0, 1])
        >>> idx = subset_indices(labels, 2, 2, seed=0)
        >>> sorted(labels[idx].tolist())  # one image of each class
        [0, 1]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SpectralValueError(f"n: expected an int >= 1, got {n!r}")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(labels), generator=g)
    if stratified and len(perm):
        lab = labels.to(torch.int64)[perm]
        # occurrence of each position within its class, in permutation order
        order = torch.argsort(lab, stable=True)
        counts = torch.bincount(lab, minlength=n_classes)
        starts = torch.cumsum(counts, 0) - counts
        occurrence = torch.empty_like(lab)
        occurrence[order] = torch.arange(len(lab)) - starts[lab[order]]
        rank = occurrence * n_classes + lab
        perm = perm[torch.argsort(rank, stable=True)]
    return perm[: min(n, len(labels))]


def _parse_split(split: str | Split) -> Split:
    return parse_enum(split, Split, "split")
