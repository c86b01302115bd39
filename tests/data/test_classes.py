"""match_classes: which model output each data class is, or a clear refusal."""

from __future__ import annotations

import pytest
import torch

from spectral.data import CIFAR10_CLASSES, ImageDataset
from spectral.data.classes import match_classes, parse_class_map
from spectral.errors import SpectralValueError


def test_names_among_the_models_are_matched_by_name() -> None:
    m = match_classes(["cat", "dog", "ship", "truck"], 10, model_classes=CIFAR10_CLASSES)
    assert m.how == "by name"
    assert [CIFAR10_CLASSES[t] for t in m.targets] == ["cat", "dog", "ship", "truck"]


def test_same_names_same_order_is_identity() -> None:
    m = match_classes(CIFAR10_CLASSES, 10, model_classes=CIFAR10_CLASSES)
    assert m.targets == tuple(range(10)) and m.how == "identical"


def test_unknown_name_is_refused_and_named() -> None:
    with pytest.raises(SpectralValueError, match=r"'?zebra'? .*not among the model's"):
        match_classes(["cat", "zebra"], 10, model_classes=CIFAR10_CLASSES)


def test_unnamed_labels_are_indices_and_must_fit() -> None:
    assert match_classes(["0", "1", "2"], 10).targets == (0, 1, 2)
    with pytest.raises(SpectralValueError, match="labels up to 11, the model 10 outputs"):
        match_classes([str(i) for i in range(12)], 10)


def test_without_model_names_count_must_agree() -> None:
    assert match_classes(["a", "b", "c"], 3).how == "assumed"
    with pytest.raises(SpectralValueError, match=r"4 classes .* 10 outputs without class names"):
        match_classes(["a", "b", "c", "d"], 10)


def test_cifar_names_on_an_unnamed_ten_output_model_use_cifar_order() -> None:
    m = match_classes(["ship", "cat"], 10)
    assert m.targets == (8, 3) and m.how == "CIFAR-10 order"


def test_class_map_by_index_and_by_name_and_its_errors() -> None:
    cm = parse_class_map("kitty=cat, boat=8")
    m = match_classes(["boat", "kitty"], 10, model_classes=CIFAR10_CLASSES, class_map=cm)
    assert m.targets == (8, 3) and m.how == "class map"
    with pytest.raises(SpectralValueError, match=r"'?boat'? are not mapped"):
        match_classes(["boat", "kitty"], 10, class_map={"kitty": "3"})
    with pytest.raises(SpectralValueError, match="output 12 is out of range"):
        match_classes(["boat"], 10, class_map={"boat": "12"})
    with pytest.raises(SpectralValueError, match="'cat' is not a class of the model"):
        match_classes(["boat"], 10, class_map={"boat": "cat"})
    for bad in ("boat", "=3", "a=1,a=2", " , "):
        with pytest.raises(SpectralValueError, match="class_map"):
            parse_class_map(bad)


def test_apply_relabels_and_renames() -> None:
    ds = ImageDataset(torch.zeros(3, 3, 4, 4), torch.tensor([0, 1, 0]), ("dog", "cat"))
    out = match_classes(ds.classes, 10, model_classes=CIFAR10_CLASSES).apply(ds)
    assert out.labels.tolist() == [5, 3, 5] and out.classes == tuple(CIFAR10_CLASSES)
    assert out.images is ds.images
