"""ROC figures of the Fourier detector: one curve per attack, one panel per feature."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from spectral import plot


def test_plot_roc_draws_the_given_points_and_the_chance_line() -> None:
    ax = Figure().subplots()
    curve = {"fpr": [0.0, 0.0, 0.5, 1.0], "tpr": [0.0, 0.5, 1.0, 1.0]}
    lines = plot.plot_roc(ax, {"pgd": curve}, aucs={"pgd": 0.875}, title="InputMFS")
    assert [ln.get_label() for ln in lines] == ["pgd (AUC 0.875)"]
    np.testing.assert_array_equal(lines[0].get_xdata(), curve["fpr"])
    np.testing.assert_array_equal(lines[0].get_ydata(), curve["tpr"])
    assert len(ax.lines) == 2 and ax.get_title() == "InputMFS"  # + chance diagonal


def test_detection_figure_has_a_panel_per_feature_and_a_curve_per_attack() -> None:
    curve = {"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]}
    rows = [
        {"attack": a, "feature": f, "auc": 0.5}
        for a in ("fgsm", "pgd")
        for f in ("InputMFS", "LayerMFS")
    ]
    roc = {f"{r['attack']}/{r['feature']}": curve for r in rows if r != rows[3]}
    fig = plot.detection_figure(roc, rows)
    assert [ax.get_title() for ax in fig.axes] == ["InputMFS", "LayerMFS"]
    assert [len(ax.lines) - 1 for ax in fig.axes] == [2, 1]  # pgd/LayerMFS has no curve
