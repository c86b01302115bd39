"""Matplotlib figures (the only subpackage that imports matplotlib).

Every ``plot_*`` function draws into an ``ax`` it is given and returns what it drew;
nothing calls ``plt.show()``. The ``*_figure`` functions build a whole
:class:`matplotlib.figure.Figure` (no pyplot state) from those pieces.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)

from spectral.plot.attack import attack_figures, comparison_figure, feature_spectra_figure
from spectral.plot.bands import bands_figure, plot_band_attack, plot_filtered_accuracy
from spectral.plot.base import (
    FIGURE_FORMATS,
    as_2d_array,
    legend_below,
    new_figure,
    save_figure,
    set_suptitle,
    set_title,
    wrap_text,
)
from spectral.plot.baselines import dataset_spectrum_figure, noise_figures
from spectral.plot.calibration import (
    calibration_figure,
    plot_confidence_histogram,
    plot_reliability,
)
from spectral.plot.defenses import blur_figure, plot_defense_bars
from spectral.plot.detection import detection_figure, plot_roc
from spectral.plot.filters import (
    filter_figure,
    plot_filter_grid,
    plot_filter_metric,
    plot_kernel_spectrum,
)
from spectral.plot.robust import gradient_figure, heatmap_figure, plot_attribution
from spectral.plot.spectra import (
    MAGNITUDE_LABEL,
    plot_band_energy,
    plot_radial_profile,
    plot_spectrum,
    spectrum_figure,
    summary_figure,
)

__all__ = [
    "FIGURE_FORMATS",
    "MAGNITUDE_LABEL",
    "as_2d_array",
    "attack_figures",
    "bands_figure",
    "blur_figure",
    "calibration_figure",
    "comparison_figure",
    "dataset_spectrum_figure",
    "detection_figure",
    "feature_spectra_figure",
    "filter_figure",
    "gradient_figure",
    "heatmap_figure",
    "legend_below",
    "new_figure",
    "noise_figures",
    "plot_attribution",
    "plot_band_attack",
    "plot_band_energy",
    "plot_confidence_histogram",
    "plot_defense_bars",
    "plot_filter_grid",
    "plot_filter_metric",
    "plot_filtered_accuracy",
    "plot_kernel_spectrum",
    "plot_radial_profile",
    "plot_reliability",
    "plot_roc",
    "plot_spectrum",
    "save_figure",
    "set_suptitle",
    "set_title",
    "spectrum_figure",
    "summary_figure",
    "wrap_text",
]
