"""`spectral report`: the main job, run on the built-in default when given no arguments.

Sections:
1. the attack on the model (and a comparison model): accuracy, success rate, L2
   dissimilarity, input spectra natural / perturbed / difference (figure 1), radial
   profiles (figure 4), band energies per model (figure 5);
2. feature-map spectra of layer 1 and a deeper layer, clean / adversarial / perturbation
   (figures 2 and 3);
3. the BlurNet black-box table with adaptive attacks (figure 6);
   robust vs normal: 3x3 filter statistics, confidence and calibration (clean and
   adversarial), input and integrated gradients with their spectra, Fourier heat maps;
4. input spectra of the bundled photographs (BlurNet-style figure, slopes, bands);
5. the dataset-scale mean power spectrum of the analysed test images (streaming accumulator);
6. a random +-eps sign-noise baseline: the spectrum a perturbation has when it carries
   no structure, to hold adversarial perturbations against.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from cli._common import (
    AttackOpt,
    DataOpt,
    DeviceOpt,
    EpsOpt,
    ForceOpt,
    ModelOpt,
    SeedOpt,
    StepsOpt,
    UserError,
    WeightsOpt,
    check_attack,
    check_eps,
    check_l2_eps,
    load_compared,
    output_dir,
    progress,
    stdout,
    user_errors,
    write_json,
)
from cli._html import Section, render
from cli._report_sections import BANDS, papers_section
from spectral.fourier import DEFAULT_CUTOFFS, Backend


def report(
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("spectral-report"),
    model: ModelOpt = "builtin:standard",
    weights: WeightsOpt = None,
    compare_model: Annotated[
        str,
        typer.Option(
            "--compare-model",
            help="Second model for the per-model comparison ('auto': builtin:adversarial "
            "next to builtin:standard; '' for none).",
        ),
    ] = "auto",
    compare_weights: Annotated[
        Path | None,
        typer.Option("--compare-weights", help="State dict for a module:factory --compare-model."),
    ] = None,
    data: DataOpt = "builtin",
    attack: AttackOpt = "pgd",
    eps: EpsOpt = 8 / 255,
    steps: StepsOpt = 10,
    layers: Annotated[
        str | None,
        typer.Option("--layers", help="Comma-separated layers (default: first_conv + 2nd conv)."),
    ] = None,
    n_images: Annotated[int, typer.Option("--n-images", help="Test images analysed (>= 2).")] = 256,
    blur_images: Annotated[
        int, typer.Option("--blur-images", help="Images for the blur table (0: skip it).")
    ] = 100,
    gradient_images: Annotated[
        int, typer.Option("--gradient-images", help="Images for the gradient section (0: skip).")
    ] = 64,
    heatmap_images: Annotated[
        int, typer.Option("--heatmap-images", help="Images for the Fourier heat map (0: skip).")
    ] = 100,
    heatmap_eps: Annotated[
        float, typer.Option("--heatmap-eps", help="L2 norm of the heat map's basis perturbation.")
    ] = 4.0,
    backend: Annotated[Backend, typer.Option("--backend", help="FFT backend.")] = Backend.AUTO,
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
) -> None:
    """Run the whole spectral analysis (built-in default) and write report.json/.html."""
    import torch

    import spectral as sp
    from spectral.analysis import paper_comparison

    t_start = time.perf_counter()
    with user_errors(), output_dir(out, force, "report") as tmp:
        if n_images < 2:
            raise UserError(f"--n-images: expected >= 2, got {n_images}")
        check_eps(eps)
        if steps < 1 or min(blur_images, gradient_images, heatmap_images) < 0:
            raise UserError(
                "--steps: expected >= 1; --blur-images, --gradient-images, --heatmap-images: "
                f"expected >= 0 (got {steps}, {blur_images}, {gradient_images}, {heatmap_images})"
            )
        check_l2_eps(heatmap_eps, "--heatmap-eps")
        torch.manual_seed(seed)  # before loading: a module:factory may initialise randomly
        # load and validate everything before any work: one clear line for a mistake
        from cli._report_model import default_layers, model_sections
        from spectral.models import resolve_layer

        if compare_model == "auto":
            compare_model = "builtin:adversarial" if model == "builtin:standard" else ""
        dev, nets, x, y = load_compared(
            model=model,
            vs=compare_model,
            weights=weights,
            vs_weights=compare_weights,
            data=data,
            n_images=n_images,
            seed=seed,
            device=device,
            options=("--model", "--compare-model"),
        )
        names = list(nets)
        net = nets[names[0]]
        other = nets[names[1]] if len(names) > 1 else None
        layer_list = (
            [v.strip() for v in layers.split(",") if v.strip()] if layers else default_layers(net)
        )
        for layer in layer_list:
            resolve_layer(net, layer)
        check_attack(attack, net, eps, steps)
        result: dict[str, Any] = {
            "spectral_version": sp.__version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "seed": seed,
            "device": str(dev),
            "backend": backend.value,
            "bands": list(BANDS),
            "cutoffs": list(DEFAULT_CUTOFFS),
        }
        sections: list[Section] = []
        with progress() as bar:
            figdir = tmp / "figures"
            figdir.mkdir()

            # 1-3. model, attack, feature maps, blur ------------------------------------------
            model_part, model_secs, adversarial = model_sections(
                model=net,
                model_name=names[0],
                compare=other,
                compare_name=names[1] if other is not None else None,
                x=x,
                y=y,
                attack=attack,
                eps=eps,
                steps=steps,
                layers=layer_list,
                blur_images=blur_images,
                seed=seed,
                figdir=figdir,
                bar=bar,
            )
            result.update(model_part)
            result.update(
                {
                    "model": model,
                    "data": data,
                    "attack": attack,
                    "eps": eps,
                    "steps": steps,
                    "n_images": len(x),
                    "layers": layer_list,
                }
            )
            sections.extend(model_secs)

            # robust vs normal: filters, calibration, gradients, Fourier heat map ----------------
            from cli._report_robust import robust_sections

            robust_part, robust_secs = robust_sections(
                nets=nets,
                x=x,
                y=y,
                adversarial=adversarial,
                attack=attack,
                eps=eps,
                gradient_images=gradient_images,
                heatmap_images=heatmap_images,
                heatmap_eps=heatmap_eps,
                seed=seed,
                figdir=figdir,
                bar=bar,
            )
            result.update(robust_part)
            sections.extend(robust_secs)

            # references: bundled photographs, the analysed data, random sign noise ------
            from cli._report_reference import reference_sections

            ref_part, ref_secs = reference_sections(
                x=x,
                data=data,
                eps=eps,
                seed=seed,
                backend=backend,
                device=dev,
                figdir=figdir,
                bar=bar,
            )
            result.update(ref_part)
            sections.extend(ref_secs)

            # the seeds' phenomena: ours | paper | agrees? ---------------------------------
            papers = paper_comparison(result) if len(result["models"]) >= 2 else None
            if papers is not None:
                result["papers"] = papers.to_dict()
            sections.insert(0, papers_section(papers))

            result["elapsed_s"] = round(time.perf_counter() - t_start, 2)
            write_json(tmp / "report.json", result)
            meta = {
                k: result[k]
                for k in (
                    "spectral_version",
                    "created",
                    "model",
                    "data",
                    "attack",
                    "eps",
                    "seed",
                    "device",
                    "backend",
                )
            }
            (tmp / "report.html").write_text(
                render("spectral report", meta, sections), encoding="utf-8"
            )

    print_summary(result, out)


def print_summary(result: dict[str, Any], out: Path) -> None:
    """The terminal summary: one row per model and the noise baseline."""
    table = RichTable(title=f"spectral report -> {out}")
    for col in ("model", "clean acc.", "adv. acc.", "success", "pert. low/mid/high"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, v in result["models"].items():
        bands = "/".join("–" if b is None else f"{b:.2f}" for b in v["band_energy"]["perturbation"])
        table.add_row(
            name,
            f"{v['clean_accuracy']:.3f}",
            f"{v['adversarial_accuracy']:.3f}",
            f"{v['attack_success_rate']:.3f}",
            bands,
        )
    noise = result["noise_baseline"]["band_energy"]["perturbation"]
    table.add_row("random sign noise", "", "", "", "/".join(f"{b:.2f}" for b in noise))
    stdout.print(table)
    stdout.print(f"wrote {out}/report.json, report.html, figures/ in {result['elapsed_s']} s")
