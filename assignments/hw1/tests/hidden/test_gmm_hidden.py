"""Hidden tests for HW1 part 2 (gmm.py): exact checks against the solution key, numerical
stability, and properties of EM on data from a known mixture.

Exact checks give both implementations the same float64 inputs and compare outputs at the
default tolerance; every correct way of computing them (Cholesky or slogdet, solve or
inverse, any order of reductions) agrees to far better than that. EM runs start from given
parameters, so they are deterministic too, and every property check (rows that sum to 1,
a curve that never falls, parameters near the truth) ends on an exact check of the same
result: a shortcut with the property (uniform responsibilities, a flat curve) earns nothing.
Every seed below was fixed in advance and the
solution key passes under it and under many others: over seeds 0-199 the recovery check's
worst errors were 0.028 (weights) and 0.21 (means); over 60 other data sets the monotonicity
check's worst step was -3e-10 (its own seed: -9e-16). The catalogue of wrong implementations
these tests catch is tests/assignments/hw1/gmm_variants.py.
"""

import pytest
import torch

from autograder.testing import assert_close

F64 = torch.float64

# The known mixture of the EM checks: three 2-D components, well separated.
TRUE_WEIGHTS = torch.tensor([0.5, 0.3, 0.2], dtype=F64)
TRUE_MEANS = torch.tensor([[0.0, 0.0], [6.0, 1.0], [2.0, 6.0]], dtype=F64)
TRUE_COVS = torch.tensor([[[1.0, 0.5], [0.5, 1.0]], [[2.0, -0.6], [-0.6, 0.8]], [[0.6, 0.0], [0.0, 1.5]]], dtype=F64)
SHORT_RUN = 5  # EM steps of the exact check that ends each property check of fit_gmm


def f64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def parts(result, name: str, n: int) -> tuple:
    """A function's n results as a tuple, or a failure a student can read."""
    assert isinstance(result, (tuple, list)) and len(result) == n, \
        f"{name} must return a tuple of {n} tensors, got {type(result).__name__}"
    return tuple(result)


def checked(value, name: str, shape: tuple[int, ...] | None = None, dtype: torch.dtype | None = F64) -> torch.Tensor:
    """``value`` if it is a finite tensor of the given shape and dtype; else a readable failure."""
    assert isinstance(value, torch.Tensor), f"{name}: expected a tensor, got {type(value).__name__}"
    assert shape is None or tuple(value.shape) == shape, f"{name}: expected shape {shape}, got {tuple(value.shape)}"
    assert dtype is None or value.dtype == dtype, f"{name}: expected dtype {dtype}, got {value.dtype}"
    assert bool(torch.isfinite(value).all()), f"{name}: contains NaN or inf"
    return value


def random_params(seed: int, K: int, D: int, spread: float = 3.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random (weights, means, covs): softmax weights, N(0, spread^2) means, covs A A^T / D + 0.2 I."""
    g = generator(seed)
    weights = torch.softmax(torch.randn(K, generator=g, dtype=F64), dim=0)
    means = spread * torch.randn(K, D, generator=g, dtype=F64)
    a = torch.randn(K, D, D, generator=g, dtype=F64)
    covs = a @ a.mT / D + 0.2 * torch.eye(D, dtype=F64)
    return weights, means, covs


def random_points(seed: int, n: int, D: int, spread: float = 4.0) -> torch.Tensor:
    return spread * torch.randn(n, D, generator=generator(seed), dtype=F64)


def mixture_data(seed: int, n: int, means: torch.Tensor = TRUE_MEANS) -> torch.Tensor:
    """n points (n, 2) of the known mixture (with other means if given), by ancestral sampling."""
    g = generator(seed)
    k = torch.multinomial(TRUE_WEIGHTS, n, replacement=True, generator=g)
    z = torch.randn(n, 2, generator=g, dtype=F64)
    return means[k] + (torch.linalg.cholesky(TRUE_COVS)[k] @ z.unsqueeze(-1)).squeeze(-1)


def start_at(x: torch.Tensor, rows: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EM's initial parameters: equal weights, means at the given data points, identity covariances."""
    K, D = len(rows), x.shape[1]
    return torch.full((K,), 1.0 / K, dtype=F64), x[list(rows)].clone(), torch.eye(D, dtype=F64).repeat(K, 1, 1)


def assert_same_fit(got, expected, what: str) -> None:
    """Compare two results of fit_gmm: parameters and the whole log-likelihood curve."""
    for name, g, e in zip(("weights", "means", "covs", "log_likelihoods"), parts(got, "fit_gmm", 4), expected):
        assert_close(g, e, name=f"{name} ({what})")


# --- log_gaussian and gmm_log_density ----------------------------------------------------


@pytest.mark.points(3)
def test_gmm_log_gaussian_exact(student, solution):
    """log_gaussian matches the solution in 3-D, for one Gaussian and for a batch of 4 (one ill-conditioned)."""
    x = random_points(201, 40, 3)
    _, means, covs = random_params(202, 4, 3)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator(203), dtype=F64))
    covs[3] = q @ torch.diag(f64([1e-3, 1.0, 1e2])) @ q.mT  # condition number 1e5
    for name, mean, cov in (("one Gaussian", means[0], covs[0]), ("4 components", means, covs)):
        got = student.gmm.log_gaussian(x, mean, cov)
        assert_close(got, solution.gmm.log_gaussian(x, mean, cov), name=f"log densities, {name}")


@pytest.mark.points(1)
def test_gmm_log_density_exact(student, solution):
    """gmm_log_density matches the solution for mixtures of 1 and 4 components in 3-D."""
    x = random_points(204, 60, 3)
    for K, seed in ((1, 205), (4, 206)):
        params = random_params(seed, K, 3)
        assert_close(student.gmm.gmm_log_density(x, *params), solution.gmm.gmm_log_density(x, *params),
                     name=f"log p(x), {K}-component mixture")


@pytest.mark.points(2)
def test_gmm_log_density_far(student, solution):
    """gmm_log_density stays finite and right 1e2 to 1e4 away from every mean (log-sum-exp)."""
    params = random_params(207, 3, 2)
    directions = torch.nn.functional.normalize(torch.randn(6, 2, generator=generator(208), dtype=F64), dim=1)
    x = torch.cat([directions * r for r in (1e2, 1e3, 1e4)])  # (18, 2)
    got = checked(student.gmm.gmm_log_density(x, *params), "log p(x) far from the means", (18,))
    assert_close(got, solution.gmm.gmm_log_density(x, *params), name="log p(x) far from the means")


# --- e_step ------------------------------------------------------------------------------


@pytest.mark.points(4)
def test_gmm_e_step_exact(student, solution):
    """e_step matches the solution's responsibilities and mean log-likelihood (3-D, 5 components)."""
    x = random_points(209, 80, 3)
    params = random_params(210, 5, 3)
    responsibilities, log_likelihood = parts(student.gmm.e_step(x, *params), "e_step", 2)
    expected = solution.gmm.e_step(x, *params)
    assert_close(responsibilities, expected[0], name="responsibilities")
    assert_close(log_likelihood, expected[1], name="mean log-likelihood")


@pytest.mark.points(2)
def test_gmm_e_step_far(student, solution):
    """e_step's responsibilities stay finite and right where every density underflows to 0."""
    # Two mirror-image components, 50 to 5000 away: the densities are exp(-1250) or less, yet
    # the responsibilities are ordinary numbers (0.5 each on the mirror line).
    weights, means, covs = f64([0.5, 0.5]), f64([[-1.0, 0.0], [1.0, 0.0]]), torch.eye(2, dtype=F64).repeat(2, 1, 1)
    x = f64([[0.0, 50.0], [0.3, 50.0], [-0.2, -400.0], [0.0, 5000.0], [1e3, 1e3]])
    cases = [("mirror components", x, (weights, means, covs)),
             ("random components", random_points(211, 30, 2, spread=1e3), random_params(212, 4, 2))]
    for name, points, params in cases:
        responsibilities, log_likelihood = parts(student.gmm.e_step(points, *params), "e_step", 2)
        expected = solution.gmm.e_step(points, *params)
        checked(responsibilities, f"responsibilities, {name}", tuple(expected[0].shape))
        assert_close(responsibilities, expected[0], name=f"responsibilities, {name}")
        assert_close(log_likelihood, expected[1], name=f"mean log-likelihood, {name}")


@pytest.mark.points(1)
def test_gmm_responsibilities_normalised(student, solution):
    """Each row of the responsibilities (one data point) is a distribution over the K components: the posterior."""
    cases = [(random_points(213, 4, 2), random_params(214, 4, 2)),  # N == K: a wrong axis still has the right shape
             (random_points(215, 50, 3), random_params(216, 3, 3)),
             (random_points(217, 7, 1), random_params(218, 6, 1, spread=1.0))]
    for x, params in cases:
        N, K = x.shape[0], params[0].shape[0]
        responsibilities, _ = parts(student.gmm.e_step(x, *params), "e_step", 2)
        responsibilities = checked(responsibilities, f"responsibilities ({N} points, {K} components)", (N, K))
        assert bool(((responsibilities >= 0) & (responsibilities <= 1)).all()), "responsibilities outside [0, 1]"
        assert_close(responsibilities.sum(dim=1), torch.ones(N, dtype=F64), rtol=0.0, atol=1e-6,
                     name=f"row sums ({N} points, {K} components)")
        assert_close(responsibilities, solution.gmm.e_step(x, *params)[0],
                     name=f"responsibilities ({N} points, {K} components)")


# --- m_step ------------------------------------------------------------------------------


@pytest.mark.points(3)
def test_gmm_m_step_exact(student, solution):
    """m_step matches the solution on soft responsibilities (3-D, 4 components), with ridge 1e-3 and the default."""
    x = random_points(219, 50, 3)
    responsibilities = torch.softmax(2.0 * torch.randn(50, 4, generator=generator(220), dtype=F64), dim=1)
    for name, args in (("ridge 1e-3", (x, responsibilities, 1e-3)), ("default ridge", (x, responsibilities))):
        weights, means, covs = parts(student.gmm.m_step(*args), "m_step", 3)
        expected = solution.gmm.m_step(*args)
        assert_close(weights, expected[0], name=f"weights, {name}")
        assert_close(means, expected[1], name=f"means, {name}")
        assert_close(covs, expected[2], name=f"covariances, {name}")


@pytest.mark.points(2)
def test_gmm_m_step_ridge(student, solution):
    """A component that collapses onto one data point gets covariance ridge * I, and EM stays finite."""
    # m_step alone: component 2 owns only the point (3, 4); its covariance is ridge * I exactly.
    x = f64([[0.0, 0.0], [1.0, 0.5], [-1.0, 2.0], [3.0, 4.0], [5.0, -1.0], [6.0, 0.0]])
    responsibilities = f64([[1, 0, 0]] * 3 + [[0, 0, 1]] + [[0, 1, 0]] * 2)
    _, _, covs = parts(student.gmm.m_step(x, responsibilities, 1e-2), "m_step", 3)
    checked(covs, "covariances", (3, 2, 2))
    assert_close(covs[2], 1e-2 * torch.eye(2, dtype=F64), name="covariance of a one-point component (ridge 1e-2)")
    # EM with a component started on an outlier: it collapses onto it at the first M-step.
    data = torch.cat([mixture_data(221, 200), f64([[30.0, -30.0]])])
    weights = torch.full((4,), 0.25, dtype=F64)
    means = torch.cat([TRUE_MEANS, f64([[30.0, -30.0]])])
    covs = torch.cat([TRUE_COVS, 0.01 * torch.eye(2, dtype=F64).unsqueeze(0)])
    for ridge in (1e-6, 1e-3):
        got = student.gmm.fit_gmm(data, weights, means, covs, n_iter=5, tol=0.0, ridge=ridge)
        expected = solution.gmm.fit_gmm(data, weights, means, covs, n_iter=5, tol=0.0, ridge=ridge)
        checked(parts(got, "fit_gmm", 4)[3], f"log_likelihoods (ridge {ridge:g})", tuple(expected[3].shape))
        assert_same_fit(got, expected, f"a component collapsed on an outlier, ridge {ridge:g}")


# --- fit_gmm -----------------------------------------------------------------------------


@pytest.mark.points(4)
def test_gmm_fit_exact(student, solution):
    """fit_gmm matches the solution's parameters and log-likelihoods after 25 EM steps on overlapping clusters."""
    x = mixture_data(222, 300, means=TRUE_MEANS / 2)
    start = start_at(x, (0, 1, 2))
    got = student.gmm.fit_gmm(x, *start, n_iter=25, tol=1e-8)
    assert_same_fit(got, solution.gmm.fit_gmm(x, *start, n_iter=25, tol=1e-8), "25 steps")
    got = student.gmm.fit_gmm(x, *start, n_iter=1, tol=1e-8, ridge=1e-2)
    assert_same_fit(got, solution.gmm.fit_gmm(x, *start, n_iter=1, tol=1e-8, ridge=1e-2), "1 step, ridge 1e-2")


@pytest.mark.points(1)
def test_gmm_fit_stops_at_tol(student, solution):
    """fit_gmm stops at the first step that improves the mean log-likelihood by less than tol, or after n_iter."""
    x = mixture_data(222, 300, means=TRUE_MEANS / 2)
    start = start_at(x, (0, 1, 2))
    for n_iter, tol in ((200, 2e-3), (200, 1e-3), (3, 1e-3)):
        expected = solution.gmm.fit_gmm(x, *start, n_iter=n_iter, tol=tol)
        log_likelihoods = parts(student.gmm.fit_gmm(x, *start, n_iter=n_iter, tol=tol), "fit_gmm", 4)[3]
        log_likelihoods = checked(log_likelihoods, "log_likelihoods", None)
        assert log_likelihoods.shape == expected[3].shape, \
            f"with n_iter={n_iter}, tol={tol:g}: {len(log_likelihoods)} log-likelihoods, which is the wrong number"
        assert_close(log_likelihoods, expected[3], name=f"log_likelihoods (n_iter={n_iter}, tol={tol:g})")


@pytest.mark.points(1)
def test_gmm_fit_monotone(student, solution):
    """EM never lowers the log-likelihood (worst step >= -1e-8), from good and bad starts, with K = 2 to 5,
    and its first steps are EM's."""
    x = mixture_data(223, 400)
    for rows in ((0, 1, 2), (0, 1), (5, 6, 7, 8, 9), (10, 20, 30, 40)):
        start = start_at(x, rows)
        start[2].mul_(0.1)  # narrow initial components: large early steps
        result = parts(student.gmm.fit_gmm(x, *start, n_iter=100, tol=0.0), "fit_gmm", 4)
        log_likelihoods = checked(result[3], f"log_likelihoods (K = {len(rows)})", None)
        assert log_likelihoods.ndim == 1 and len(log_likelihoods) >= 2, "log_likelihoods must be 1-D, initial one first"
        worst = log_likelihoods.diff().min().item()
        assert worst >= -1e-8, f"K = {len(rows)}: an EM step lowered the mean log-likelihood by {-worst:.2g}"
        # the first steps exactly (later ones amplify round-off from these narrow starts)
        got = student.gmm.fit_gmm(x, *start, n_iter=SHORT_RUN, tol=0.0)
        assert_same_fit(got, solution.gmm.fit_gmm(x, *start, n_iter=SHORT_RUN, tol=0.0), f"K = {len(rows)}")


@pytest.mark.points(2)
def test_gmm_fit_recovers_mixture(student, solution):
    """EM on 2000 samples of a known 3-component mixture recovers its weights (+-0.04) and means (+-0.25),
    and its first steps are the solution's."""
    x = mixture_data(224, 2000)
    start = (torch.full((3,), 1 / 3, dtype=F64),
             TRUE_MEANS + f64([[1.5, -1.0], [-1.0, 1.5], [1.0, 1.0]]),  # each start nearest its own component
             2.0 * torch.eye(2, dtype=F64).repeat(3, 1, 1))
    got = parts(student.gmm.fit_gmm(x, *start, n_iter=300, tol=1e-10), "fit_gmm", 4)
    weights, means = checked(got[0], "weights", (3,)), checked(got[1], "means", (3, 2))
    weight_error = (weights - TRUE_WEIGHTS).abs().max().item()
    mean_error = (means - TRUE_MEANS).abs().max().item()
    assert weight_error < 0.04, f"weights are off by up to {weight_error:.2f}"
    assert mean_error < 0.25, f"means are off by up to {mean_error:.2f}"
    # the first steps exactly (where EM stops near tol 1e-10 depends on round-off)
    got = student.gmm.fit_gmm(x, *start, n_iter=SHORT_RUN, tol=0.0)
    assert_same_fit(got, solution.gmm.fit_gmm(x, *start, n_iter=SHORT_RUN, tol=0.0), "2000 samples")


# --- float32 -----------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.tolerance(rtol=1e-4, atol=1e-4)
def test_gmm_float32(student, solution):
    """Every function takes float32 tensors and returns float32 results close to float64 ones."""
    x = mixture_data(225, 200)
    params = start_at(x, (0, 1, 2))
    single = [p.float() for p in (x, *params)]

    def expected(name: str, *args):
        """The solution's float64 result on the same (float32-rounded) inputs, as float32."""
        result = getattr(solution.gmm, name)(*[a.double() if isinstance(a, torch.Tensor) else a for a in args])
        return tuple(r.float() for r in result) if isinstance(result, tuple) else result.float()

    x32, weights32, means32, covs32 = single
    responsibilities32 = expected("e_step", *single)[0]
    checks = [
        ("log_gaussian", (x32, means32[0], covs32[0])),
        ("gmm_log_density", tuple(single)),
        ("e_step", tuple(single)),
        ("m_step", (x32, responsibilities32)),
        ("fit_gmm", (*single, 10, 0.0)),
    ]
    for name, args in checks:
        assert_close(getattr(student.gmm, name)(*args), expected(name, *args), name=f"{name} on float32 inputs")
