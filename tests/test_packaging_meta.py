"""Package metadata and dependency bounds: the wheel carries the MIT LICENSE, classifiers
and the runtime requirements (greenlet among them, botorch bounded to the series
whose priors ``samplers/_gpfit.py`` copies); our fast GP fit agrees with BoTorch's own
``fit_gpytorch_mll`` on that series; ``create_sampler("qehvi")`` names a missing torch /
botorch at once instead of failing inside the first trial.

The wheel is the one ``conftest.wheel`` builds once from a copy of the tree."""

from __future__ import annotations

import importlib.util
import math
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(zf.read(name).decode())


@pytest.mark.integration
def test_license_file_is_mit_and_in_the_wheel(wheel, metadata):
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) " in text and "moo-cosearch developers" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
    with zipfile.ZipFile(wheel) as zf:
        licenses = [n for n in zf.namelist() if n.endswith("/LICENSE") and ".dist-info/" in n]
        assert len(licenses) == 1, zf.namelist()
        assert zf.read(licenses[0]).decode() == text
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]


@pytest.mark.integration
def test_classifiers(metadata):
    classifiers = metadata.get_all("Classifier") or []
    for c in ("Programming Language :: Python :: 3",
              "Intended Audience :: Science/Research",
              "Topic :: Scientific/Engineering :: Artificial Intelligence"):
        assert c in classifiers
    assert classifiers == _pyproject()["project"]["classifiers"]


def _requires(metadata) -> dict[str, list[str]]:
    """Requirement name → full Requires-Dist lines."""
    from packaging.requirements import Requirement

    out: dict[str, list[str]] = {}
    for line in metadata.get_all("Requires-Dist") or []:
        out.setdefault(Requirement(line).name.lower(), []).append(line)
    return out


@pytest.mark.integration
def test_requires_dist(metadata):
    from packaging.requirements import Requirement

    req = _requires(metadata)
    for name in ("optuna", "numpy", "torch", "botorch", "pymoo", "moocore", "tqdm",
                 "matplotlib", "greenlet"):
        assert name in req, sorted(req)
    greenlet = [Requirement(line) for line in req["greenlet"]]
    assert any(r.marker is None for r in greenlet), req["greenlet"]  # a main dependency
    assert any(r.specifier.contains("3.5.6") for r in greenlet)       # the pinned version
    botorch = Requirement(req["botorch"][0])
    assert botorch.marker is None
    assert botorch.specifier.contains("0.18.1")
    assert not botorch.specifier.contains("0.12.0")  # _gpfit copies 0.18's priors
    assert not botorch.specifier.contains("0.19.0")
    assert any("extra == \"dev\"" in line for line in req["pytest"])


def test_the_installed_botorch_is_within_the_bound():
    from packaging.requirements import Requirement

    botorch = pytest.importorskip("botorch")
    deps = [Requirement(d) for d in _pyproject()["project"]["dependencies"]]
    bound = next(d for d in deps if d.name == "botorch")
    assert bound.specifier.contains(botorch.__version__), (bound, botorch.__version__)


# ---- the fast GP fit against BoTorch's -------------------------------------------------------
def test_model_priors_are_the_ones_gpfit_copies():
    torch = pytest.importorskip("torch")
    pytest.importorskip("botorch")
    from moo_cosearch.samplers._qehvi import _gpfit

    d = 5
    X = torch.rand(8, d, dtype=torch.float64)
    model = _gpfit.make_model(X, torch.rand(8, 2, dtype=torch.float64))
    prior = model.covar_module.lengthscale_prior
    assert float(prior.loc) == pytest.approx(math.sqrt(2) + 0.5 * math.log(d))
    assert float(prior.scale) == pytest.approx(math.sqrt(3))
    noise_prior = model.likelihood.noise_covar.noise_prior
    assert (float(noise_prior.loc), float(noise_prior.scale)) == pytest.approx(_gpfit._NOISE_PRIOR)
    assert float(model.covar_module.raw_lengthscale_constraint.lower_bound) == \
        pytest.approx(_gpfit._LS_MIN)
    assert float(model.likelihood.noise_covar.raw_noise_constraint.lower_bound) == \
        pytest.approx(_gpfit._NOISE_MIN)


@pytest.mark.slow
def test_fast_fit_agrees_with_fit_gpytorch_mll():
    torch = pytest.importorskip("torch")
    pytest.importorskip("botorch")
    import numpy as np
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from moo_cosearch.samplers._qehvi._gpfit import (GPHypers, apply_hypers, fit_gp_hypers, make_model,
                                              train_targets)

    g = torch.Generator().manual_seed(0)
    X = torch.rand(30, 4, dtype=torch.float64, generator=g)
    Y = torch.stack([torch.sin(6 * X[:, 0]) + X[:, 1] ** 2, torch.cos(3 * X[:, 2]) - X[:, 3],
                     X.sum(1)], -1)
    Y = Y + 0.05 * torch.randn(30, 3, dtype=torch.float64, generator=g)

    def mll_value(model) -> float:
        model.train()
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with torch.no_grad():
            return float(mll(model(*model.train_inputs), model.train_targets).sum())

    theirs = make_model(X, Y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(theirs.likelihood, theirs))
    ours = make_model(X, Y)
    hyper = fit_gp_hypers(X, train_targets(ours), maxiter=200)
    apply_hypers(ours, hyper)
    # same objective (log marginal likelihood + log priors, / n): the same optimum
    assert mll_value(ours) == pytest.approx(mll_value(theirs), abs=2e-3)
    assert mll_value(ours) >= mll_value(theirs) - 1e-3
    ref = GPHypers(theirs.covar_module.lengthscale.detach().squeeze(-2).numpy(),
                   theirs.likelihood.noise.detach().squeeze(-1).numpy(),
                   theirs.mean_module.constant.detach().numpy())
    assert np.abs(np.log(hyper.lengthscale / ref.lengthscale)).max() < 0.05
    assert np.abs(np.log(hyper.noise / ref.noise)).max() < 0.05
    assert np.abs(hyper.constant - ref.constant).max() < 5e-3
    # started at BoTorch's optimum, our fit stays there (it would move under other priors)
    warm = fit_gp_hypers(X, train_targets(ours), init=ref, maxiter=200)
    assert np.abs(np.log(warm.lengthscale / ref.lengthscale)).max() < 0.05
    assert np.abs(np.log(warm.noise / ref.noise)).max() < 0.05


def test_refit_keeps_per_outcome_the_better_of_the_warm_and_the_cold_start():
    torch = pytest.importorskip("torch")
    import numpy as np
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from moo_cosearch.samplers._qehvi._gpfit import (GPHypers, apply_hypers, fit_gp_hypers,
                                                     make_model, train_targets)

    g = torch.Generator().manual_seed(0)
    X = torch.rand(40, 2, dtype=torch.float64, generator=g)
    Y = torch.stack([torch.sin(5 * X[:, 0]) + torch.sin(5 * X[:, 1]), X[:, 0] - X[:, 1]], -1)
    model = make_model(X, Y)
    T = train_targets(model)

    def log_posterior(h: GPHypers) -> np.ndarray:  # per outcome, by gpytorch (mll + priors)
        out = []
        for j in range(2):
            m = make_model(X, Y[:, j:j + 1])
            apply_hypers(m, GPHypers(h.lengthscale[j:j + 1], h.noise[j:j + 1],
                                     h.constant[j:j + 1]))
            m.train()
            with torch.no_grad():
                out.append(float(ExactMarginalLogLikelihood(m.likelihood, m)(
                    m(*m.train_inputs), m.train_targets)))
        return np.array(out)

    # a stale warm start that ignores input 1 of outcome 0; 3 warm iterations do not recover
    stale = GPHypers(np.array([[0.3, 1e3], [1.0, 1.0]]), np.array([0.3, 0.01]), np.zeros(2))
    warm = log_posterior(fit_gp_hypers(X, T, init=stale, maxiter=3, cold_maxiter=0))
    cold = log_posterior(fit_gp_hypers(X, T, maxiter=100))
    both = log_posterior(fit_gp_hypers(X, T, init=stale, maxiter=3, cold_maxiter=100))
    assert warm[0] < cold[0] - 0.1  # the case the cold start is for
    np.testing.assert_array_less(np.maximum(warm, cold) - 1e-6, both)


# ---- a missing torch / botorch is reported by create_sampler ---------------------------------
@pytest.mark.parametrize("sampler", ["qehvi", "qnehvi"])
@pytest.mark.parametrize("missing", [("torch",), ("botorch",), ("torch", "botorch")])
def test_create_sampler_names_a_missing_torch_or_botorch(monkeypatch, sampler, missing):
    from moo_cosearch.samplers import MissingDependencyError, create_sampler

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name in missing else real(name, *a, **k))
    with pytest.raises(MissingDependencyError) as info:
        create_sampler(sampler, seed=0)
    msg = str(info.value)
    assert isinstance(info.value, ImportError) and isinstance(info.value, ValueError)
    assert "\n" not in msg and f"sampler {sampler!r}" in msg
    assert "pip install" in msg
    for name in missing:
        assert name in msg
    for name in {"torch", "botorch"} - set(missing):
        assert f"needs {name}" not in msg and f"'{name}>=" not in msg
    # other samplers do not need them
    assert type(create_sampler("tpe", seed=0)).__name__ == "TPESampler"


def test_create_study_reports_it_as_a_value_error(monkeypatch):
    from moo_cosearch import create_study, load_space

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "botorch" else real(name, *a, **k))
    with pytest.raises(ValueError, match=r"needs botorch.*pip install"):
        create_study(load_space("nb201-edge"), "nb201-cifar10-latency-area", sampler="qehvi",
                     storage=None)
