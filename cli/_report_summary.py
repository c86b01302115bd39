"""The parts of `spectral report` that make it readable and citable.

The headline summary, the definitions (bands, formulas, intervals), the list of skipped
sections with the option that enables each, and what is needed to reproduce the run.
"""

from __future__ import annotations

import platform
import shlex
import sys
from importlib import metadata
from typing import Any

from cli._html import Section, Table


def _pct(d: dict[str, Any]) -> str:
    lo, hi = d["ci95"]
    return f"{100 * d['estimate']:.1f}% (95% CI {100 * lo:.1f}-{100 * hi:.1f})"


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The headline numbers, one sentence each, from a report's JSON."""
    lines = []
    attack = f"{result['attack']} (L-inf eps {result['eps']:.4g}, {result['steps']} steps)"
    for name, v in result["models"].items():
        iv = v["intervals"]
        high = v["band_energy"]["perturbation"][2]
        lines.append(
            f"{name}: clean accuracy {_pct(iv['clean_accuracy'])}, accuracy under {attack} "
            f"{_pct(iv['adversarial_accuracy'])}, on {v['n_images']} images; "
            f"{100 * high:.0f}% of the perturbation's energy is in the high band."
        )
        for k, d in v.get("difference_vs_main", {}).items():
            if k == "adversarial_accuracy":
                lo, hi = d["ci95"]
                verdict = "excludes 0" if d["excludes_zero"] else "includes 0 (not significant)"
                lines.append(
                    f"{name} minus the first model, accuracy under attack: "
                    f"{100 * d['estimate']:+.1f} points (95% CI {100 * lo:+.1f} to "
                    f"{100 * hi:+.1f}; {verdict})."
                )
    noise = result["noise_baseline"]["band_energy"]["perturbation"][2]
    lines.append(
        f"Random sign noise of the same budget puts {100 * noise:.0f}% of its energy in the "
        "high band: the reference for 'high-frequency'."
    )
    if "papers" in result:
        claims = result["papers"]["claims"]
        agree = sum(1 for c in claims if c["agrees"] is True)
        undecided = sum(1 for c in claims if c["agrees"] is None)
        lines.append(
            f"Of the source papers' {len(claims)} claims checked, {agree} agree with these "
            f"numbers, {len(claims) - agree - undecided} disagree and {undecided} are "
            "undecided (section 1)."
        )
    return lines


def definitions_section(cutoffs: tuple[float, float] | list[float]) -> Section:
    """Band definitions and every formula the report uses."""
    lo, hi = cutoffs
    rows = [
        ["frequency radius r", "sqrt(fx^2 + fy^2) in cycles/pixel; 0.5 is Nyquist on an axis"],
        ["low band", f"0 < r < {lo:g} cycles/pixel (DC excluded)"],
        ["mid band", f"{lo:g} <= r < {hi:g} cycles/pixel"],
        ["high band", f"r >= {hi:g} cycles/pixel (up to sqrt(2)/2 in the corners)"],
        ["band energy", "sum of |F|^2 over the band / sum over all non-DC bins, per channel"],
        ["power spectrum", "|F(x)|^2 / (H W), so it sums to sum(x^2) (Parseval)"],
        ["radial slope", "least-squares slope of log power vs log r over the rings"],
        ["accuracy", "mean 1[f(x) = y]; under attack mean 1[f(x_adv) = y]"],
        ["attack success rate", "mean 1[f(x) != f(x_adv)] over all images (BlurNet)"],
        ["L2 dissimilarity", "mean ||x - x_adv||_2 / ||x_adv||_2 (BlurNet)"],
        ["ECE", "sum over bins of (n_b / n) |accuracy_b - confidence_b|"],
        ["proportion interval", "95% Wilson score interval on n images"],
        ["difference interval", "95% paired bootstrap over images (2,000 resamples)"],
    ]
    return Section(
        "Definitions",
        ["Every band, formula and interval used in this report."],
        [Table("Definitions", ["term", "definition"], rows)],
        [],
    )


def skipped_section(skipped: list[tuple[str, str]]) -> Section | None:
    """``(section, option that enables it)`` pairs as a section, or None when none."""
    if not skipped:
        return None
    return Section(
        "Skipped sections",
        ["These sections were not computed in this run."],
        [Table("Skipped", ["section", "how to include it"], [list(s) for s in skipped])],
        [],
    )


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _arg(value: Any) -> str:
    return str(getattr(value, "value", value))


def command_line(ctx: Any | None = None) -> str:
    """The command as given, rebuilt from the parsed options (defaults left out).

    Rebuilt from the command's ``typer.Context`` rather than ``sys.argv`` so it is right
    however the command was invoked (console script, ``python -m``, a test runner).
    """
    if ctx is None:
        return shlex.join(["spectral", *sys.argv[1:]])
    words = ["spectral", ctx.info_name or ""]
    for param in ctx.command.params:
        opts = getattr(param, "opts", None)
        if not opts or param.name is None or not opts[0].startswith("--"):
            continue
        source = ctx.get_parameter_source(param.name)
        if getattr(source, "name", "") != "COMMANDLINE":
            continue
        value = ctx.params.get(param.name)
        if getattr(param, "is_flag", False):
            if value:
                words.append(opts[0])
            continue
        words += [opts[0], _arg(value)]
    return shlex.join(words)


def run_info(ctx: Any | None = None) -> dict[str, Any]:
    """The command line (from ``ctx``, a ``typer.Context``) and the versions used."""
    return {
        "command": command_line(ctx),
        "versions": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            **{
                d: _version(d)
                for d in ("torch", "numpy", "scipy", "torchattacks", "pyfftw", "scikit-learn")
            },
        },
    }
