"""`spectral report`: the main job, run on the built-in default when given no arguments.

Sections:
1. the attack on the model (and a comparison model): accuracy, success rate, L2
   dissimilarity, input spectra natural / perturbed / difference (figure 1), radial
   profiles (figure 4), band energies per model (figure 5);
2. feature-map spectra of layer 1 and a deeper layer, clean / adversarial / difference
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
from cli._html import Section, Table, render
from spectral.fourier.backends import Backend

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
BANDS = ("low", "mid", "high")


def _fmt_bands(v: list[float | None]) -> list[Any]:
    return [None if f is None else round(float(f), 4) for f in v]


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
    from spectral.data.builtin import builtin_photo
    from spectral.plot.base import new_figure, save_figure
    from spectral.plot.spectra import (
        comparison_figure,
        plot_band_energy,
        spectrum_figure,
        summary_figure,
    )

    t_start = time.perf_counter()
    with user_errors():
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
        from spectral.models.layers import resolve_layer

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
            out=out,
            force=force,
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
            "cutoffs": [1 / 8, 1 / 4],
        }
        sections: list[Section] = []
        with progress() as bar, output_dir(out, force) as tmp:
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

            data_x = x  # the analysed test images (x is reused for the photographs below)

            # 1. input spectra of photographs -----------------------------------------------
            task = bar.add_task("photo spectra", total=len(PHOTOS))
            per_photo: dict[str, Any] = {}
            summaries = []
            for name in PHOTOS:
                x = builtin_photo(name).to(dev)
                s = sp.spectrum_summary(x, backend=backend)
                ch = sp.fourier.channel_names(int(x.shape[1]))
                per_photo[name] = {
                    "height": int(x.shape[2]),
                    "width": int(x.shape[3]),
                    "band_energy": dict(zip(ch, s.band_energy[0].tolist(), strict=True)),
                    "radial_slope": dict(zip(ch, s.slope[0].tolist(), strict=True)),
                }
                summaries.append(s)
                bar.advance(task)
            fig = summary_figure(
                summaries,
                row_labels=list(PHOTOS),
                title="Bundled photographs: log-shifted normalised magnitude spectra",
            )
            save_figure(fig, figdir / "input_spectra.png")
            result["input_spectra"] = per_photo
            sections.append(
                Section(
                    "Input spectra of the bundled photographs",
                    [
                        "Log-shifted, min-max normalised magnitude spectra per colour channel "
                        "(DC in the centre), and the radial power profile with its fitted "
                        "power-law slope (natural images: about -2).",
                    ],
                    [
                        Table(
                            "Per photograph: fraction of non-DC energy per band (mean over "
                            "channels) and radial power slope (mean over channels)",
                            ["photo", "size", "low", "mid", "high", "slope"],
                            [
                                [
                                    n,
                                    f"{v['height']}x{v['width']}",
                                    *_fmt_bands(
                                        [
                                            sum(b[i] for b in v["band_energy"].values()) / 3
                                            for i in range(3)
                                        ]
                                    ),
                                    round(sum(v["radial_slope"].values()) / 3, 3),
                                ]
                                for n, v in per_photo.items()
                            ],
                        )
                    ],
                    [(figdir / "input_spectra.png", "Input spectra (rows: photographs)")],
                )
            )

            # 2. dataset-scale mean spectrum (streaming) of the analysed data ----------------
            acc = sp.SpectrumAccumulator(backend=backend)
            batch = 64
            n_data = len(data_x)
            task = bar.add_task("dataset spectrum", total=n_data)
            for i in range(0, n_data, batch):
                acc.update(data_x[i : i + batch])
                bar.advance(task, min(batch, n_data - i))
            mean_power = acc.mean()[None]
            radii, prof = sp.radial_profile(mean_power)
            slope = sp.powerlaw_slope(radii, prof)[0]
            log_mean = torch.log10(mean_power[0].clamp_min(torch.finfo(mean_power.dtype).tiny))
            lo = log_mean.amin(dim=(-2, -1), keepdim=True)
            hi = log_mean.amax(dim=(-2, -1), keepdim=True)
            norm = (log_mean - lo) / (hi - lo).clamp_min(1e-12)
            cv = (acc.var().sqrt() / acc.mean().clamp_min(1e-30)).mean().item()
            ch = sp.fourier.channel_names(int(data_x.shape[1]))
            size = f"{data_x.shape[2]}x{data_x.shape[3]}"
            fig = spectrum_figure(
                [norm.cpu()],
                row_labels=[f"mean of {n_data}"],
                radial=[
                    (
                        radii.cpu(),
                        {c: prof[0, i].cpu() for i, c in enumerate(ch)},
                        dict(zip(ch, slope.tolist(), strict=True)),
                    )
                ],
                title=f"Mean power spectrum of {n_data} test images ({size}, log10, normalised)",
            )
            save_figure(fig, figdir / "dataset_spectrum.png")
            result["dataset_spectrum"] = {
                "n_images": acc.count,
                "data": data,
                "size": size,
                "radial_slope": dict(zip(ch, slope.tolist(), strict=True)),
                "mean_coefficient_of_variation": cv,
            }
            sections.append(
                Section(
                    "Dataset-scale mean power spectrum",
                    [
                        f"The {acc.count} analysed test images ({size}, --data {data}), "
                        "accumulated batch by batch with SpectrumAccumulator (memory does not "
                        "grow with the number of images). Mean over frequencies of the "
                        f"per-frequency coefficient of variation: {cv:.3g}.",
                    ],
                    [
                        Table(
                            "Radial power-law slope of the mean spectrum",
                            ["channel", "slope"],
                            [[c, round(v, 3)] for c, v in zip(ch, slope.tolist(), strict=True)],
                        )
                    ],
                    [(figdir / "dataset_spectrum.png", "Mean power spectrum and radial profile")],
                )
            )

            # 3. random sign-noise baseline --------------------------------------------------
            task = bar.add_task("noise baseline", total=1)
            g = torch.Generator().manual_seed(seed)
            clean = data_x[: min(64, n_data)].cpu()
            noise = eps * (torch.randint(0, 2, clean.shape, generator=g) * 2 - 1).to(clean.dtype)
            noisy = (clean + noise).clamp(0.0, 1.0)
            cmp = sp.compare_spectra(clean.to(dev), noisy.to(dev), backend=backend)
            bar.advance(task)
            save_figure(
                comparison_figure(
                    cmp,
                    labels=("natural", "noisy"),
                    title=f"Random sign noise, eps = {eps:.4g}: spectra of test image 0",
                ),
                figdir / "noise_spectra.png",
            )
            d = cmp.to_dict()
            fig, axes = new_figure(1, 1, size=(5.5, 3.5))
            plot_band_energy(
                axes[0, 0],
                {
                    "clean": d["band_energy"]["clean"],
                    "noisy": d["band_energy"]["adversarial"],
                    "perturbation": d["band_energy"]["perturbation"],
                },
                title="Band energy (mean over images and channels)",
            )
            save_figure(fig, figdir / "noise_band_energy.png")
            result["noise_baseline"] = {"eps": eps, "n_images": int(clean.shape[0]), **d}
            sections.append(
                Section(
                    f"Baseline: random sign noise (L-inf eps = {eps:.4g})",
                    [
                        "Each pixel is moved by +eps or -eps at random (then clipped to [0, 1]). "
                        "Such noise is white: its energy spreads over all frequencies, so most "
                        "of it lies in the high band. An adversarial perturbation of the same "
                        "size is compared against this baseline in the attack sections.",
                    ],
                    [
                        Table(
                            "Fraction of non-DC energy per band (mean over images and channels)",
                            ["signal", *BANDS],
                            [
                                ["clean", *_fmt_bands(d["band_energy"]["clean"])],
                                ["noisy", *_fmt_bands(d["band_energy"]["adversarial"])],
                                ["perturbation", *_fmt_bands(d["band_energy"]["perturbation"])],
                                ["shift (noisy - clean)", *_fmt_bands(d["band_energy"]["shift"])],
                            ],
                        )
                    ],
                    [
                        (figdir / "noise_spectra.png", "Rows: natural, noisy, difference"),
                        (figdir / "noise_band_energy.png", "Band energies"),
                    ],
                )
            )

            # the seeds' phenomena: ours | paper | agrees? ---------------------------------
            if len(result["models"]) >= 2:
                from spectral.analysis.papers import paper_comparison

                papers = paper_comparison(result)
                result["papers"] = papers.to_dict()
                sections.insert(
                    0,
                    Section(
                        "The papers' phenomena, measured here",
                        [
                            f"Each claim of the source papers, checked on this report's "
                            f"numbers: {papers.standard} as the standard model, {papers.robust} "
                            "as the robust one. 'yes' means our numbers point the way the "
                            "paper reports (no statistical test; see the sections below for "
                            "the sample sizes). Nothing was tuned to agree.",
                        ],
                        [
                            Table(
                                "Claims", ["phenomenon", "paper", "ours", "agrees?"], papers.rows()
                            )
                        ],
                        [],
                    ),
                )
            else:
                sections.insert(
                    0,
                    Section(
                        "The papers' phenomena, measured here",
                        ["Skipped: it needs two models (pass --compare-model)."],
                        [],
                        [],
                    ),
                )

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
