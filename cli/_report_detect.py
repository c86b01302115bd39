"""The Fourier-detector tables (`spectral detect`) and its section of `spectral report`.

Both run :func:`spectral.analysis.detection_analysis`: Harder et al.'s (2021) detector
(raw DFT magnitude of the input or of a layer, standard scaler, logistic regression)
fitted on one split of the correctly classified images and measured on the other, and
the same detector against a PGD that knows it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cli._html import Section, Table
from cli._progress import count_task

DETECT_HEADER = ["attack", "feature", "attack success", "train pairs", "test pairs"]
DETECT_HEADER += ["ACC", "AUC", "TPR", "TNR"]
TITLE = "Fourier-domain adversarial detection (Harder et al. 2021)"
REPORT_ADAPTIVE_STEPS = 10  # half of `spectral detect`'s 20: keeps the default report short
MIN_CORRECT = 6  # a training and a held-out split, each with successful examples
ADAPTIVE_HEADER = ["feature", "attack", "success", "undetected", "AUC", "TPR"]

PROTOCOL = (
    "Harder et al. (2021) protocol: only correctly classified images are attacked, only "
    "successful adversarial examples are kept (each with its clean original), the images "
    "are split into a training and a disjoint held-out part, and ACC, AUC, TPR "
    "(adversarials flagged) and TNR (clean images passed) are measured on the held-out "
    "pairs at the logistic regression's threshold. Features: raw |FFT| of the input "
    "(InputMFS) or of a layer's feature maps (LayerMFS), unshifted, per channel; "
    "*PFS: the absolute phase."
)
ADAPTIVE = (
    "Against an attacker who knows the detector: an L-inf PGD (same eps) on the "
    "classifier's margin and the detector's score (differentiated through the torch FFT "
    "features, the scaler and the logistic regression) on the held-out images. "
    "'undetected' = the fraction of held-out images that end misclassified and not flagged; "
    "AUC and TPR are over the successful ones. A detector is only as good as this row."
)


def _f(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def detect_rows(result: dict[str, Any]) -> list[list[str]]:
    """Rows of :data:`DETECT_HEADER` from ``DetectionAnalysis.to_dict()``."""
    return [
        [r["attack"], r["feature"], _f(r["success_rate"]), str(r["n_train"]), str(r["n_test"])]
        + [_f(r[k]) for k in ("acc", "auc", "tpr", "tnr")]
        for r in result["results"]
    ]


def adaptive_rows(result: dict[str, Any]) -> list[list[str]]:
    """Rows of :data:`ADAPTIVE_HEADER`: plain PGD, then the detector-aware PGD."""
    rows = []
    for r in result["adaptive"]:
        for tag, name in (("pgd", "PGD"), ("adaptive", "detector-aware PGD")):
            rows.append(
                [r["feature"], name]
                + [_f(r[f"{tag}_{k}"]) for k in ("success_rate", "undetected_rate", "auc", "tpr")]
            )
    return rows


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def detect_markdown(result: dict[str, Any], title: str) -> str:
    """``detect.md``: the protocol, the table and the adaptive table."""
    s = result["settings"]
    lines = [
        f"# {title}",
        "",
        PROTOCOL,
        "",
        f"{result['n_images']} images, {result['n_correct']} correctly classified: "
        f"{result['n_train_images']} for training, {result['n_test_images']} held out "
        f"(seed {s['seed']}); eps {s['eps']:.4g}; layers: {', '.join(result['layers']) or '–'}.",
        "",
        *_md_table(DETECT_HEADER, detect_rows(result)),
    ]
    if result["adaptive"]:
        lines += ["", "## Adaptive attack", "", ADAPTIVE, ""]
        lines += _md_table(ADAPTIVE_HEADER, adaptive_rows(result))
    return "\n".join(lines) + "\n"


def detect_section(
    *,
    model: Any,
    x: Any,
    y: Any,
    n_images: int,
    eps: float,
    steps: int,
    seed: int,
    figdir: Path,
    formats: tuple[str, ...],
    bar: Any,
    batch_size: int | None = None,
) -> tuple[dict[str, Any], list[Section]]:
    """The report's detector section: PGD only, InputMFS (+ LayerMFS when hookable)."""
    from spectral.analysis import detection_analysis
    from spectral.metrics import predict
    from spectral.models import conv2d_weights, is_exported, is_scripted
    from spectral.plot import detection_figure, save_figure

    if n_images == 0:
        return {}, []
    n = min(n_images, len(x))
    n_ok = int((predict(model, x[:n], batch_size=batch_size) == y[:n]).sum())
    if n_ok < MIN_CORRECT:
        why = f"{n_ok} of {n} images are classified correctly; the detector needs {MIN_CORRECT}"
        return {"detect": {"skipped": why}}, [Section(TITLE, [f"Skipped: {why}."])]
    features = ["InputMFS"]
    if not is_scripted(model) and not is_exported(model) and conv2d_weights(model):
        features.append("LayerMFS")
    res = detection_analysis(
        model,
        x[:n],
        y[:n],
        attacks=["pgd"],
        features=features,
        eps=eps,
        steps=steps,
        adaptive_steps=REPORT_ADAPTIVE_STEPS,
        seed=seed,
        batch_size=batch_size,
        progress=count_task(bar, "detector"),
    )
    d = res.to_dict()
    save_figure(detection_figure(res.roc, res.results), figdir / "detect.png", formats=formats)
    text = [
        PROTOCOL,
        f"{n} images, {res.n_correct} correctly classified: {res.n_train_images} for "
        f"training, {res.n_test_images} held out; PGD-{steps}, eps {eps:.4g}; detector-aware "
        f"PGD-{REPORT_ADAPTIVE_STEPS}; layer "
        f"{', '.join(res.layers) or '–'}. Run `spectral detect` for FGSM, CW and DeepFool.",
        ADAPTIVE,
    ]
    tables = [Table("Held-out detection", DETECT_HEADER, detect_rows(d))]
    if d["adaptive"]:
        tables.append(Table("Plain vs detector-aware PGD", ADAPTIVE_HEADER, adaptive_rows(d)))
    figures = [(figdir / "detect.png", "ROC curves of the detectors on the held-out pairs")]
    return {"detect": d}, [Section(TITLE, text, tables, figures)]
