"""The model zoo, load_model, SmallCNN, layer names, blur layers and feature maps."""

from __future__ import annotations

from spectral.models.blur import BlurKind, BlurLayer, Padding, blur2d, blur_kernel
from spectral.models.calls import call_counts, split_call
from spectral.models.features import feature_maps
from spectral.models.formats import (
    ACTIVATIONS,
    conv2d_weights,
    is_activation,
    is_conv2d,
    is_exported,
    is_scripted,
    module_type,
    module_types,
)
from spectral.models.insert import InputBlur, blur_layers, insert_blur
from spectral.models.layers import (
    ALIASES,
    first_activation_name,
    first_conv_name,
    layer_names,
    resolve_layer,
)
from spectral.models.load import load_model
from spectral.models.normalize import NORMALIZATIONS, parse_normalization, with_normalization
from spectral.models.smallcnn import BUILTIN_MEAN, BUILTIN_STD, Normalize, SmallCNN
from spectral.models.zoo import (
    base_arch,
    build_builtin,
    half_state,
    install_builtin,
    list_models,
    record_metrics,
    zoo_dir,
)

__all__ = [
    "ACTIVATIONS",
    "ALIASES",
    "BUILTIN_MEAN",
    "BUILTIN_STD",
    "NORMALIZATIONS",
    "BlurKind",
    "BlurLayer",
    "InputBlur",
    "Normalize",
    "Padding",
    "SmallCNN",
    "base_arch",
    "blur2d",
    "blur_kernel",
    "blur_layers",
    "build_builtin",
    "call_counts",
    "conv2d_weights",
    "feature_maps",
    "first_activation_name",
    "first_conv_name",
    "half_state",
    "insert_blur",
    "install_builtin",
    "is_activation",
    "is_conv2d",
    "is_exported",
    "is_scripted",
    "layer_names",
    "list_models",
    "load_model",
    "module_type",
    "module_types",
    "parse_normalization",
    "record_metrics",
    "resolve_layer",
    "split_call",
    "with_normalization",
    "zoo_dir",
]
