"""Blur defenses: blur layers, their penalties, and the BlurNet evaluation.

The blur layers are defined in :mod:`spectral.models.blur` (the zoo rebuilds blurred models
from them) and re-exported here.
"""

from __future__ import annotations

from spectral.defenses.blurnet import BlurEvaluation, blackbox_blur_table, defense_name
from spectral.defenses.penalties import linf_penalty, tv_penalty
from spectral.defenses.whitebox import rp2_stickers, whitebox_blur_table
from spectral.models.blur import BlurLayer, blur2d, blur_kernel
from spectral.models.insert import InputBlur, blur_layers, insert_blur

__all__ = [
    "BlurEvaluation",
    "BlurLayer",
    "InputBlur",
    "blackbox_blur_table",
    "blur2d",
    "blur_kernel",
    "blur_layers",
    "defense_name",
    "insert_blur",
    "linf_penalty",
    "rp2_stickers",
    "tv_penalty",
    "whitebox_blur_table",
]
