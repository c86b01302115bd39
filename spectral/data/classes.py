"""Matching a data set's classes to a model's outputs (by name, or by an explicit map).

An image folder's labels are the indices of its sorted sub-folders; scoring them against
a model's outputs as they are would compare a 4-folder set with the model's classes 0-3.
:func:`match_classes` says which output each data class is, or refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from spectral.data.builtin import CIFAR10_CLASSES
from spectral.data.dataset import ImageDataset
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = ["ClassMatch", "match_classes", "parse_class_map"]


@dataclass(frozen=True)
class ClassMatch:
    """Which model output each data class is.

    Attributes:
        targets: ``targets[i]`` is the model output of data class ``i``.
        how: ``"identical"`` (same names in the same order, or unnamed indices),
            ``"by name"``, ``"class map"``, ``"CIFAR-10 order"`` (CIFAR-10 names, a
            10-output model without names), or ``"assumed"`` (same count, the model has
            no class names: the data's order is taken as the model's).
        model_classes: the names of the model's outputs (``"0"``.. when unknown).
    """

    targets: tuple[int, ...]
    how: str
    model_classes: tuple[str, ...]

    def apply(self, data: ImageDataset) -> ImageDataset:
        """``data`` with labels replaced by model outputs and the model's class names.

        Args:
            data: the data set the match was made for.

        Returns:
            A new :class:`ImageDataset` sharing ``data``'s images.

        Raises:
            SpectralValueError: ``data`` has a different number of classes.
        """
        if len(data.classes) != len(self.targets):
            raise SpectralValueError(
                f"classes: the match is for {len(self.targets)} classes, the data has "
                f"{len(data.classes)}"
            )
        table = torch.tensor(self.targets, dtype=torch.int64)
        return ImageDataset(data.images, table[data.labels], self.model_classes, data.name)


def _unnamed(classes: Sequence[str]) -> bool:
    return all(c.isdigit() and int(c) == i for i, c in enumerate(classes))


def _shown(names: Sequence[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def parse_class_map(text: str) -> dict[str, str]:
    """``"cat=3,dog=5"`` or ``"cat=cat,kitten=cat"`` as ``{data class: model class}``.

    Args:
        text: comma-separated ``data_class=model_class`` pairs; the model class is an
            output index or a class name.

    Returns:
        The pairs, in order.

    Raises:
        SpectralValueError: a pair without ``=``, an empty side, or a data class twice.

    Examples:
        >>> parse_class_map("cat=3, dog=dog")
        {'cat': '3', 'dog': 'dog'}
    """
    pairs: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not key or not value:
            raise SpectralValueError(
                f"class_map: expected data_class=model_class pairs, got {part!r} in {text!r}"
            )
        if key in pairs:
            raise SpectralValueError(f"class_map: data class {key!r} is mapped twice")
        pairs[key] = value
    if not pairs:
        raise SpectralValueError(f"class_map: expected data_class=model_class pairs, got {text!r}")
    return pairs


def _target(value: str | int, model_classes: Sequence[str] | None, n_outputs: int) -> int:
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        k = int(value)
        if not 0 <= k < n_outputs:
            raise SpectralValueError(
                f"class_map: output {k} is out of range, the model has {n_outputs} outputs"
            )
        return k
    if model_classes is not None and value in model_classes:
        return list(model_classes).index(value)
    known = f"its classes are {_shown(list(model_classes))}" if model_classes else "no names"
    raise SpectralValueError(
        f"class_map: {value!r} is not a class of the model ({known}); use an output index"
    )


def match_classes(
    data_classes: Sequence[str],
    n_outputs: int,
    *,
    model_classes: Sequence[str] | None = None,
    class_map: Mapping[str, str | int] | None = None,
) -> ClassMatch:
    """Which of the model's ``n_outputs`` outputs each data class is, or a clear refusal.

    Rules, in order: an explicit ``class_map`` (every data class must be in it); data
    classes named ``"0", "1", ...`` (a tensor file without names) are output indices;
    with the model's class names known, the same names in the same order are
    ``"identical"``, names all among the model's are matched ``"by name"``, anything
    else is refused; without the model's names, CIFAR-10's names on a 10-output model are
    taken in CIFAR-10 order, the same number of classes is ``"assumed"`` to be in the
    model's order, and a different number is refused.

    Args:
        data_classes: the data set's class names, indexed by label.
        n_outputs: the model's number of outputs (logits).
        model_classes: the model's class names, if known (length ``n_outputs``).
        class_map: ``{data class: model output index or class name}``.

    Returns:
        A :class:`ClassMatch`.

    Raises:
        SpectralValueError: classes that cannot be matched (the message lists them and
            says to pass a class map), a class map missing data classes or naming
            unknown outputs, or ``model_classes`` of the wrong length.
        SpectralTypeError: ``n_outputs`` is not an int.

    Examples:
        >>> m = match_classes(["cat", "ship"], 10, model_classes=CIFAR10_CLASSES)
        >>> m.targets, m.how
        ((3, 8), 'by name')
        >>> match_classes(["a", "b"], 2).how
        'assumed'
        >>> match_classes(["a", "b"], 10).targets  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        spectral.errors.SpectralValueError: classes: the data has 2 classes (a, b) and the ...
    """
    if isinstance(n_outputs, bool) or not isinstance(n_outputs, int):
        raise SpectralTypeError(f"n_outputs: expected an int, got {type(n_outputs).__name__}")
    data = [str(c) for c in data_classes]
    names = tuple(str(c) for c in model_classes) if model_classes is not None else None
    if names is not None and len(names) != n_outputs:
        raise SpectralValueError(
            f"model_classes: expected {n_outputs} names (one per output), got {len(names)}"
        )
    own = names or tuple(str(k) for k in range(n_outputs))
    if class_map is not None:
        missing = [c for c in data if c not in class_map]
        if missing:
            raise SpectralValueError(
                f"class_map: data classes {_shown(missing)} are not mapped (the data has "
                f"{_shown(data)})"
            )
        extra = [k for k in class_map if k not in data]
        if extra:
            raise SpectralValueError(
                f"class_map: {_shown(extra)} are not classes of the data ({_shown(data)})"
            )
        targets = tuple(_target(class_map[c], names, n_outputs) for c in data)
        return ClassMatch(targets, "class map", own)
    if _unnamed(data):
        if len(data) > n_outputs:
            raise SpectralValueError(
                f"classes: the data has labels up to {len(data) - 1}, the model {n_outputs} outputs"
            )
        return ClassMatch(tuple(range(len(data))), "identical", own)
    if names is not None:
        if tuple(data) == names[: len(data)]:
            return ClassMatch(tuple(range(len(data))), "identical", own)
        unknown = [c for c in data if c not in names]
        if not unknown:
            return ClassMatch(tuple(names.index(c) for c in data), "by name", own)
        raise SpectralValueError(
            f"classes: data classes {_shown(unknown)} are not among the model's "
            f"({_shown(list(names))}); map them with a class map (e.g. {unknown[0]}=<output>)"
        )
    if n_outputs == len(CIFAR10_CLASSES) and set(data) <= set(CIFAR10_CLASSES):
        targets = tuple(CIFAR10_CLASSES.index(c) for c in data)
        return ClassMatch(targets, "CIFAR-10 order", tuple(CIFAR10_CLASSES))
    if len(data) == n_outputs:
        return ClassMatch(tuple(range(len(data))), "assumed", own)
    raise SpectralValueError(
        f"classes: the data has {len(data)} classes ({_shown(data)}) and the model "
        f"{n_outputs} outputs without class names; say which output each class is with a "
        f"class map (e.g. {data[0]}=0)"
    )
