"""Zero-cost proxies (``moo_cosearch.accuracy.proxies``): each measure against a hand
computation on a small module, the minibatch, the scores of NB201 networks (deterministic,
NAS half only, synflow against the benchmark's accuracies) and the ``proxy`` accuracy source."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import moo_cosearch.accuracy.proxies as P  # noqa: E402
from moo_cosearch.accuracy import check_spec, make_accuracy  # noqa: E402
from moo_cosearch.accuracy._proxy_data import minibatch  # noqa: E402
from moo_cosearch.accuracy._proxy_measures import measure  # noqa: E402
from moo_cosearch.networks import nb201  # noqa: E402
from moo_cosearch.space import load_space  # noqa: E402


@pytest.fixture(scope="module")
def space():
    return load_space("nb201-edge")


def _design(arch: str, **has) -> dict:
    return {**dict(zip(nb201.EDGE_PARAMS, nb201.arch_ops(arch))), **has}


# -- the measures on hand-made modules -------------------------------------------------------
def test_synflow_of_a_linear_chain_is_its_path_sum_per_layer():
    # R = 1^T |W2| |W1| 1 for a two-layer linear net; each layer's sum |theta * dR/dtheta|
    # equals R (every path crosses each layer once), so synflow = 2 R; BatchNorm is ignored.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3, bias=False), nn.BatchNorm1d(3),
                        nn.Linear(3, 2, bias=False))
    w1, w2 = (net[0].weight.detach().abs().double().numpy(),
              net[2].weight.detach().abs().double().numpy())
    path_sum = float(np.ones(2) @ w2 @ w1 @ np.ones(4))
    x, y = torch.zeros(5, 4), torch.zeros(5, dtype=torch.long)
    assert measure(net, x, y, ["synflow"])["synflow"] == pytest.approx(2 * path_sum, rel=1e-12)
    assert net[0].weight.dtype == torch.float32 and (net[0].weight < 0).any()   # unchanged


def test_grad_norm_and_snip_match_the_softmax_gradient():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 3, bias=False))
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    w = net[0].weight.detach().double().numpy()
    xs = x.double().numpy()
    logits = xs @ w.T
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(3)[y.numpy()]).T @ xs / len(xs)          # d mean CE / dW
    got = measure(net, x, y, ["grad_norm", "snip"])
    assert got["grad_norm"] == pytest.approx(np.linalg.norm(grad), rel=1e-5)
    assert got["snip"] == pytest.approx(np.abs(w * grad).sum(), rel=1e-5)


def test_naswot_is_the_logdet_of_the_activation_agreement_kernel():
    net = nn.Sequential(nn.Identity(), nn.ReLU())
    x = torch.tensor([[1., -1., 2., -3.], [1., 1., -2., -3.], [-1., 1., 2., 3.]])
    codes = (x.numpy() > 0).astype(float)
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    assert measure(net, x, torch.zeros(3, dtype=torch.long), ["naswot"])["naswot"] == \
        pytest.approx(np.linalg.slogdet(kernel)[1])
    twins = torch.cat([x[:1], x[:1]])           # identical codes: singular kernel
    assert measure(net, twins, torch.zeros(2, dtype=torch.long), ["naswot"])["naswot"] == -math.inf
    with pytest.raises(ValueError, match="nn.ReLU"):
        measure(nn.Linear(4, 2), x, torch.zeros(3, dtype=torch.long), ["naswot"])


def test_jacob_cov_follows_mellor_et_al():
    torch.manual_seed(2)
    net = nn.Sequential(nn.ReLU(), nn.Linear(8, 3))
    x = torch.randn(4, 8)
    x[:, 0] = 1.0                               # no all-zero Jacobian row
    jac = (x.numpy() > 0) * net[1].weight.detach().numpy().sum(0)   # d sum(out)/dx per sample
    v = np.linalg.eigvals(np.corrcoef(jac)).real
    expected = -np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5))
    got = measure(net, x, torch.zeros(4, dtype=torch.long), ["jacob_cov"])["jacob_cov"]
    assert got == pytest.approx(expected, rel=1e-5)
    # a linear net has the same Jacobian row for every sample: correlations all 1, eigenvalues
    # (4, 0, 0, 0), the lowest score a batch of 4 can get
    k = 1e-5
    worst = -(math.log(4 + k) + 1 / (4 + k) + 3 * (math.log(k) + 1 / k))
    assert measure(nn.Linear(8, 3), x, torch.zeros(4, dtype=torch.long),
                   ["jacob_cov"])["jacob_cov"] == pytest.approx(worst, rel=1e-6)


def test_unknown_measure_is_refused():
    with pytest.raises(ValueError, match="proxy must be one of"):
        measure(nn.Linear(2, 2), torch.zeros(2, 2), torch.zeros(2, dtype=torch.long), ["fisher"])


# -- the minibatch ------------------------------------------------------------------------------
def test_minibatch_is_deterministic_digits_or_noise():
    from sklearn.datasets import load_digits

    x, y = minibatch("digits", 16, 3, 32, 10, seed=3)
    x2, y2 = minibatch("digits", 16, 3, 32, 10, seed=3)
    assert x.shape == (16, 3, 32, 32) and torch.equal(x, x2) and torch.equal(y, y2)
    assert torch.equal(x[:, 0], x[:, 2])                     # grayscale copied per channel
    pick = np.random.default_rng(3).choice(1797, size=16, replace=False)
    assert y.tolist() == load_digits().target[pick].tolist()
    assert not torch.equal(x, minibatch("digits", 16, 3, 32, 10, seed=4)[0])
    n, labels = minibatch("noise", 16, 3, 8, 5, seed=3)
    assert n.shape == (16, 3, 8, 8) and 0 <= labels.min() and labels.max() < 5
    for bad, match in ((dict(data="cifar"), "data must be one of"),
                       (dict(batch_size=0), "batch_size must be a positive")):
        kw = dict(data="digits", batch_size=4, channels=3, resolution=8, num_classes=10,
                  seed=0) | bad
        with pytest.raises(ValueError, match=match):
            minibatch(**kw)


# -- NB201 networks -----------------------------------------------------------------------------
@pytest.mark.slow
def test_scores_are_deterministic_order_free_and_read_only_the_nas_half(space):
    cells = [_design(a) for a in list(nb201.benchmark_rows())[:3]]
    kw = dict(batch_size=8)
    m = P.proxy_matrix(space, cells, seed=5, **kw)
    assert m.shape == (3, 5) and np.isfinite(m).all()
    np.testing.assert_array_equal(m, P.proxy_matrix(space, cells[::-1], seed=5, **kw)[::-1])
    np.testing.assert_array_equal(P.proxy_scores(space, cells[1:2], "naswot", seed=5, **kw),
                                  m[1:2, 1])
    hw = {"pes_x": 8, "io_bandwidth_gbyte_s": 25}
    np.testing.assert_array_equal(P.proxy_matrix(space, [cells[0] | hw], seed=5, **kw), m[:1])
    other = P.proxy_matrix(space, cells[:1], seed=6, **kw)
    assert not np.array_equal(other, m[:1])                 # the seed draws other weights


@pytest.mark.slow
def test_synflow_ranks_nb201_cells_like_their_cifar10_accuracy(space):
    # Abdelfattah et al. report Spearman 0.74 over all NB201 cells; 60 random cells give a
    # clearly positive rank correlation (0.5 would already fail on a random ranking).
    from scipy.stats import spearmanr

    rows = nb201.benchmark_rows()
    archs = list(rows)
    pick = np.random.default_rng(0).choice(len(archs), 60, replace=False)
    cells = [archs[i] for i in pick]
    s = P.proxy_scores(space, [_design(a) for a in cells], "synflow")
    rho = spearmanr(s, [rows[a]["cifar10_test_200ep"] for a in cells])[0]
    assert rho > 0.5
    # the all-`none` cell (no path through any cell: ~10% accuracy) scores below any cell
    # with a convolution on every edge
    none, conv = (_design(nb201.arch_str([op] * 6)) for op in ("none", "nor_conv_3x3"))
    low, high = P.proxy_scores(space, [none, conv], "synflow")
    assert low < high


def test_other_families_score_too():
    nasaic = load_space("nasaic-w2")
    d = nasaic.sample(1, seed=0)
    s = P.proxy_matrix(nasaic, d, ("synflow", "naswot"), batch_size=4, resolution=16, task=0)
    assert np.isfinite(s).all() and s[0, 0] > 0


# -- the map to (0, 100) and the source -------------------------------------------------------
def test_percent_is_phi_of_the_robust_z_score():
    ref = P.ProxyReference(("naswot",), np.arange(1.0, 10.0)[:, None])   # median 5, MAD 2
    scale = 1.4826 * 2
    got = ref.percent(np.array([[5.0], [5.0 + scale], [5.0 - 2 * scale], [-math.inf]]))
    np.testing.assert_allclose(got, [50.0, 84.1344746, 2.2750132, 0.0], rtol=1e-6)
    logs = P.ProxyReference(("synflow",), np.exp(np.arange(1.0, 10.0))[:, None])
    np.testing.assert_allclose(logs.percent(np.exp([[5.0]])), [50.0])
    with pytest.raises(ValueError, match="cannot tell the reference designs apart"):
        P.ProxyReference(("naswot",), np.ones((9, 1)))


def test_combined_percent_averages_robust_z_scores():
    columns = {"synflow": np.exp(np.arange(9.0)), "naswot": np.arange(9.0),
               "jacob_cov": np.arange(9.0)[::-1] ** 2, "grad_norm": np.exp(np.arange(9.0) ** 2),
               "snip": np.exp(-np.arange(9.0))}
    raw = np.column_stack([columns[n] for n in P.COMBINED])
    ref = P.ProxyReference(P.COMBINED, raw)
    z = ref.z(raw)
    np.testing.assert_allclose(np.median(z, axis=0), 0, atol=1e-12)
    mean = z.mean(axis=1)
    c = np.median(mean)
    s = 1.4826 * np.median(np.abs(mean - c))
    from scipy.stats import norm
    np.testing.assert_allclose(ref.percent(raw), 100 * norm.cdf((mean - c) / s))


@pytest.mark.parametrize("spec, match", [
    ({"proxy": "fisher"}, "proxy must be one of"),
    ({"data": "cifar10"}, "data must be one of"),
    ({"batch_size": 1}, "batch_size must be an integer >= 2"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"reference_size": 3}, "reference_size must be an integer >= 8"),
    ({"space": "no-such-space"}, "no-such-space"),
    ({"metric": "x"}, "takes options"),
])
def test_source_options_are_checked_when_the_set_loads(spec, match):
    with pytest.raises(ValueError, match=match):
        check_spec({"source": "proxy", **spec})


@pytest.mark.slow
def test_proxy_source_is_a_monotone_percentile(space):
    check_spec({"source": "proxy", "proxy": "synflow"})
    fn = make_accuracy({"source": "proxy", "proxy": "synflow", "reference_size": 16})
    designs = space.sample(6, seed=11)                    # space inferred from the keys
    values = [fn(d) for d in designs]
    raw = P.proxy_scores(space, designs, "synflow")
    assert all(0 <= v <= 100 for v in values)
    assert np.argsort(values).tolist() == np.argsort(raw).tolist()
    named = make_accuracy({"source": "proxy", "proxy": "synflow", "space": "nb201-edge",
                           "reference_size": 16})
    assert named(designs[0]) == values[0]
    with pytest.raises(ValueError, match="needs the space"):
        fn({"edge0": "none"})


@pytest.mark.slow
def test_an_objective_set_runs_a_study_on_the_proxy_source(tmp_path, space):
    import optuna

    from moo_cosearch import make_objective

    path = tmp_path / "proxy.toml"
    path.write_text('name = "nb201-proxy"\nspace = "nb201-edge"\ncost = "edge"\n'
                    'accuracy = { source = "proxy", proxy = "synflow", reference_size = 8 }\n'
                    '[[objectives]]\nmetric = "accuracy"\ndirection = "maximize"\n'
                    '[[objectives]]\nmetric = "latency_ms"\ndirection = "minimize"\n')
    objective = make_objective(space, path)
    study = optuna.create_study(directions=objective.directions,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=4)
    fn = P.ProxyAccuracy(proxy="synflow", space="nb201-edge", reference_size=8)
    for t in study.trials:
        assert t.state == optuna.trial.TrialState.COMPLETE, t.user_attrs.get("error")
        assert t.values[0] == pytest.approx(fn(space.design_of(t)))


@pytest.mark.slow
def test_default_source_is_the_combined_proxy_against_the_spaces_random_sample(space):
    fn = make_accuracy({"source": "proxy", "space": "nb201-edge", "reference_size": 8,
                        "batch_size": 8})
    assert fn.proxy == P.DEFAULT_PROXY == "combined"
    design = space.sample(1, seed=99)[0]
    ref = P.ProxyReference(P.COMBINED, P.proxy_matrix(space, space.sample(8, seed=0),
                                                      P.COMBINED, batch_size=8))
    raw = P.proxy_matrix(space, [design], P.COMBINED, batch_size=8)
    assert fn(design) == pytest.approx(ref.percent(raw)[0])
    assert P.proxy_scores(space, [design], "combined", batch_size=8, reference_size=8)[0] \
        == pytest.approx(ref.combined(raw)[0])
