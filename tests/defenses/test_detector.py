"""The Fourier detector: features against numpy, the sklearn fit in torch, save/load, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spectral.defenses import (
    Detector,
    DetectorFeature,
    default_detector_layers,
    detector_features,
    fourier_features,
    parse_feature,
)
from spectral.errors import SpectralError, SpectralValueError
from spectral.models import SmallCNN, feature_maps


def _one_line(err: pytest.ExceptionInfo[SpectralError]) -> str:
    text = str(err.value)
    assert len(text.splitlines()) == 1, text
    return text


def test_features_equal_numpy_fft_magnitude_and_absolute_phase() -> None:
    x = torch.rand(3, 2, 5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ref = np.fft.fft2(x.numpy())  # per channel over the last two axes, unshifted
    mag = fourier_features(x)
    pha = fourier_features(x, kind="phase")
    assert mag.shape == pha.shape == (3, 2 * 5 * 7)
    np.testing.assert_allclose(mag.numpy(), np.abs(ref).reshape(3, -1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        pha.numpy(), np.abs(np.angle(ref)).reshape(3, -1), rtol=1e-12, atol=1e-12
    )
    # raw and unshifted: DC (index 0 of each channel) is the channel's sum
    np.testing.assert_allclose(mag.reshape(3, 2, 35)[:, :, 0].numpy(), x.sum((2, 3)).numpy())


def test_magnitude_is_shift_invariant_and_a_cosine_peaks_at_its_bin() -> None:
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    rolled = torch.roll(x, shifts=(3, 5), dims=(2, 3))
    torch.testing.assert_close(fourier_features(rolled), fourier_features(x))
    n = torch.arange(16, dtype=torch.float64)
    wave = (0.5 + 0.5 * torch.cos(2 * torch.pi * 3 * n / 16))[None, None, None, :].expand(
        1, 1, 4, 16
    )
    mag = fourier_features(wave.contiguous()).reshape(4, 16)
    assert set(mag[0].topk(3).indices.tolist()) == {0, 3, 13}
    assert float(mag[1:].abs().max()) < 1e-9  # constant along rows


def test_phase_gradient_is_finite_at_zero_coefficients() -> None:
    x = torch.full((1, 1, 4, 4), 0.5, dtype=torch.float64, requires_grad=True)
    fourier_features(x, kind="phase").sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    y = torch.rand(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: fourier_features(t, kind="magnitude"), (y,))


def test_layer_features_are_the_fft_of_the_feature_maps_with_and_without_grad() -> None:
    torch.manual_seed(0)
    net = SmallCNN(width=4).double().eval()  # float64: batching changes no phase
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    layers = ["features.conv1", "features.relu3"]
    maps = feature_maps(net, x, layers)
    want = torch.cat([fourier_features(maps[n], kind="phase") for n in layers], dim=1)
    got = detector_features(x, "LayerPFS", model=net, layers=layers, batch_size=2)
    torch.testing.assert_close(got, want)
    with_grad = detector_features(x, "LayerPFS", model=net, layers=layers, grad=True)
    torch.testing.assert_close(with_grad, want)
    assert default_detector_layers(net) == ("features.conv5",)


def _pair(n: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    clean = torch.rand(n, 3, 8, 8, generator=gen) * 0.6 + 0.2
    noise = (torch.randint(0, 2, clean.shape, generator=gen) * 2 - 1) * 0.1
    return clean, (clean + noise).clamp(0, 1)


def test_torch_decision_equals_sklearn_pipeline() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    clean, adv = _pair()
    det = Detector.fit(clean, adv, "InputMFS")
    f = torch.cat([fourier_features(clean), fourier_features(adv)]).double().numpy()
    labels = np.r_[np.zeros(len(clean)), np.ones(len(adv))]
    scaler = StandardScaler().fit(f)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(f), labels)
    want = clf.decision_function(scaler.transform(f))
    got = torch.cat([det.decision_function(clean), det.decision_function(adv)]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    # high-frequency sign noise is what the magnitude spectrum sees: training pairs separate
    assert det.predict(adv).float().mean() > 0.9 and (~det.predict(clean)).float().mean() > 0.9


def test_save_load_round_trip_gives_identical_scores(tmp_path) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    net = SmallCNN(width=4).eval()
    clean, adv = _pair(16)
    det = Detector.fit(clean, adv, "LayerMFS", model=net, layers=["features.relu2"])
    path = tmp_path / "detector.json"
    det.save(path)
    data = json.loads(path.read_text())  # plain JSON, no pickle
    assert data["feature"] == "LayerMFS" and data["layers"] == ["features.relu2"]
    back = Detector.load(path, model=net)
    new = torch.rand(5, 3, 8, 8)
    assert torch.equal(back.decision_function(new), det.decision_function(new))
    assert np.array_equal(back.coef, det.coef) and back.intercept == det.intercept


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read it"),
        ('{"format": "other"}', "not a spectral-fourier-detector file"),
    ],
)
def test_load_refuses_other_files_in_one_line(tmp_path, content, message) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "d.json"
    path.write_text(content)
    with pytest.raises(SpectralValueError) as err:
        Detector.load(path)
    assert message in _one_line(err)


def test_load_refuses_inconsistent_parameters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clean, adv = _pair(8)
    d = Detector.fit(clean, adv, "InputMFS").to_dict()
    d["scale"] = d["scale"][:-1]
    (tmp_path / "d.json").write_text(json.dumps(d))
    with pytest.raises(SpectralValueError) as err:
        Detector.load(tmp_path / "d.json")
    assert "'scale'" in _one_line(err)


def test_bad_input_gives_one_clear_line() -> None:
    clean, adv = _pair(8)
    det = Detector.fit(clean, adv, "InputMFS")
    with pytest.raises(SpectralValueError) as err:
        det.predict(torch.rand(2, 3, 16, 16))
    assert "fitted on images of shape (3, 8, 8)" in _one_line(err)
    with pytest.raises(SpectralValueError) as err:
        parse_feature("InputXYZ")
    assert "'InputMFS', 'InputPFS', 'LayerMFS', 'LayerPFS'" in _one_line(err)
    with pytest.raises(SpectralValueError) as err:
        Detector.fit(clean, adv, "LayerMFS")
    assert "pass the model" in _one_line(err)
    with pytest.raises(SpectralValueError) as err:
        Detector.fit_features(torch.rand(4, 3), [0, 0, 0, 0], "InputMFS", image_shape=(3, 1, 1))
    assert "both present" in _one_line(err)
    with pytest.raises(SpectralValueError) as err:
        Detector.fit(clean * 255, adv, "InputMFS")
    _one_line(err)
    assert parse_feature(" inputpfs ") is DetectorFeature.INPUT_PFS
