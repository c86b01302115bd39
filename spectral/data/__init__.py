"""The built-in data, image IO, and loaders for image folders, CIFAR-10 batches and tensor files."""

from __future__ import annotations

from spectral.data.builtin import (
    BUILTIN_CLASSES,
    BUILTIN_FILE,
    BUILTIN_PHOTOS,
    CIFAR10_CLASSES,
    builtin_dataset,
    builtin_patches,
    builtin_photo,
    decode_jpeg_pack,
    make_builtin_subset,
)
from spectral.data.cifar import load_cifar10
from spectral.data.classes import ClassMatch, match_classes, parse_class_map
from spectral.data.dataset import ImageDataset, Split, subset_indices
from spectral.data.folders import IMAGE_EXTENSIONS, load_image_folder
from spectral.data.io import Transparency, read_image
from spectral.data.load import load_dataset
from spectral.data.patches import PATCH_CLASSES, patch_dataset
from spectral.data.resize import ResizeMode, resize_images
from spectral.data.tensors import load_tensor_file

__all__ = [
    "BUILTIN_CLASSES",
    "BUILTIN_FILE",
    "BUILTIN_PHOTOS",
    "CIFAR10_CLASSES",
    "IMAGE_EXTENSIONS",
    "PATCH_CLASSES",
    "ClassMatch",
    "ImageDataset",
    "ResizeMode",
    "Split",
    "Transparency",
    "builtin_dataset",
    "builtin_patches",
    "builtin_photo",
    "decode_jpeg_pack",
    "load_cifar10",
    "load_dataset",
    "load_image_folder",
    "load_tensor_file",
    "make_builtin_subset",
    "match_classes",
    "parse_class_map",
    "patch_dataset",
    "read_image",
    "resize_images",
    "subset_indices",
]
