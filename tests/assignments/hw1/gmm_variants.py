"""Variants of the hw1 Gaussian-mixture solution key and the tests each must fail: do the tests discriminate?

Each variant applies text replacements to assignments/hw1/gmm.py (the solution source:
its SOLUTION markers are comments, so it runs as it is) and is graded with the public
and hidden tests. A wrong variant must fail exactly the tests in ``must_fail``; a correct
one (``must_fail == []``) must get full marks. Every ``old`` text occurs exactly once in
the source. The list is data only; the harness lives with the tests.
"""

# Lines of the solution that several variants edit.
_DIFF_X = "diff = x - mean.unsqueeze(-2)  # (..., N, D): every point minus every mean"
_Z = "z = torch.linalg.solve_triangular(chol, diff.mT, upper=False)  # (..., D, N): L z = x - mu"
_MAHA = "mahalanobis = z.pow(2).sum(dim=-2)  # (..., N)"
_LOGDET = "log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(dim=-1)  # (...,)"
_LOG_N = "return -0.5 * (D * math.log(2.0 * math.pi) + log_det.unsqueeze(-1) + mahalanobis)"
_JOINT_DENSITY = "log_joint = torch.log(weights) + log_gaussian(x, means, covs).mT  # (N, K): log pi_k N(x_n; ...)"
_LSE_DENSITY = "return torch.logsumexp(log_joint, dim=1)  # (N,)"
_JOINT_E = "log_joint = torch.log(weights) + log_gaussian(x, means, covs).mT  # (N, K)\n"
_LOG_PX = "log_px = torch.logsumexp(log_joint, dim=1, keepdim=True)  # (N, 1): log p(x_n)"
_RESP = "responsibilities = torch.exp(log_joint - log_px)  # (N, K), normalised over components"
_E_RETURN = "return responsibilities, log_px.mean()"
_WEIGHTS = "weights = counts / N  # (K,)"
_MEANS = "means = responsibilities.mT @ x / counts.unsqueeze(1)  # (K, D)"
_DIFF_M = "diff = x - means.unsqueeze(1)  # (K, N, D): x_n - mu_k"
_WEIGHTED = "weighted = responsibilities.mT.unsqueeze(-1) * diff  # (K, N, D): r[n, k] (x_n - mu_k)"
_COVS = "covs = weighted.mT @ diff / counts.view(-1, 1, 1)  # (K, D, D)"
_RIDGE = "covs = covs + ridge * torch.eye(D, dtype=x.dtype, device=x.device)"
# The lookup-table cheat's table: the data x of the public tests, each a tuple of its values.
_LOOKUP = '''def _public(x: torch.Tensor) -> bool:
    """Whether x holds the data of a public test (whose answers are then the real ones)."""
    return tuple(x.flatten().tolist()) in {
        (0.0, 1.0, -2.0), (1.0, -1.0, 2.0, 0.0, 2.0, -2.0),  # log_gaussian
        (-1.0, 0.0, 2.0, 5.0),  # gmm_log_density
        (0.0, 1.0, -1.0, 3.0), (0.0, 0.0, 1.0, 2.0, -3.0, 1.0, 4.0, -1.0, 0.5, 0.5),  # e_step
        (0.0, 0.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0, 10.0, 10.0, 12.0, 14.0), (0.0, 1.0, 2.0),  # m_step
        (1.0, 2.0, 3.0, 6.0), (-2.1, -1.7, -1.2, -0.4, 0.3, 1.1, 1.6, 2.4, 2.9, 3.3),  # fit_gmm
    }


'''

_FIT = """\
    responsibilities, log_likelihood = e_step(x, weights, means, covs)
    log_likelihoods = [log_likelihood]
    for _ in range(n_iter):
        weights, means, covs = m_step(x, responsibilities, ridge)
        responsibilities, log_likelihood = e_step(x, weights, means, covs)
        log_likelihoods.append(log_likelihood)
        if log_likelihoods[-1] - log_likelihoods[-2] < tol:
            break
"""
_M_CALL = "weights, means, covs = m_step(x, responsibilities, ridge)"
_STOP = "if log_likelihoods[-1] - log_likelihoods[-2] < tol:"

# Tests that fail together. A wrong log N(x; mu, Sigma) for D > 1 fails all of these:
_LOG_N_ALL = [
    "test_gmm_log_gaussian", "test_gmm_log_gaussian_batched", "test_gmm_log_gaussian_exact",
    "test_gmm_log_density_exact", "test_gmm_log_density_far", "test_gmm_e_step_exact",
    "test_gmm_m_step_ridge", "test_gmm_fit_exact", "test_gmm_fit_stops_at_tol", "test_gmm_float32",
]  # fmt: skip
# every test that compares results of EM (fit_gmm) with the solution's:
_EM_COMPARED = ["test_gmm_fit_exact", "test_gmm_fit_stops_at_tol", "test_gmm_m_step_ridge", "test_gmm_float32"]
_M_STEP_ALL = ["test_gmm_m_step", "test_gmm_m_step_exact", *_EM_COMPARED]
_E_STEP_ALL = ["test_gmm_e_step", "test_gmm_e_step_exact", "test_gmm_e_step_far", *_EM_COMPARED]

VARIANTS = [
    # ---- wrong: log_gaussian ------------------------------------------------------------
    {   # log det Sigma = sum log L_ii, the factor 2 forgotten: the density is not normalised
        "name": "gmm_log_gaussian_half_log_det",
        "module": "gmm",
        "replace": [(_LOGDET, "log_det = torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(dim=-1)")],
        "must_fail": _LOG_N_ALL + [
            "test_gmm_fit", "test_gmm_fit_monotone", "test_gmm_log_density",
            "test_gmm_fit_recovers_mixture", "test_gmm_responsibilities_normalised",
        ],
    },
    {   # (x - mu)^T Sigma (x - mu): the covariance where its inverse belongs
        "name": "gmm_log_gaussian_cov_not_inverse",
        "module": "gmm",
        "replace": [(_MAHA, "mahalanobis = (diff * (diff @ cov)).sum(dim=-1)")],
        "must_fail": _LOG_N_ALL + [
            "test_gmm_log_density", "test_gmm_e_step_far", "test_gmm_fit", "test_gmm_fit_monotone",
            "test_gmm_fit_recovers_mixture", "test_gmm_responsibilities_normalised",
        ],
    },
    {   # log(2 pi) once instead of D times: right in 1-D only
        "name": "gmm_log_gaussian_constant_not_times_d",
        "module": "gmm",
        "replace": [(_LOG_N, "return -0.5 * (math.log(2.0 * math.pi) + log_det.unsqueeze(-1) + mahalanobis)")],
        "must_fail": _LOG_N_ALL + ["test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture"],
    },
    {   # solves L^T z = x - mu: the quadratic form of (L^T L)^-1, not of (L L^T)^-1
        "name": "gmm_log_gaussian_transposed_factor",
        "module": "gmm",
        "replace": [(_Z, "z = torch.linalg.solve_triangular(chol.mT, diff.mT, upper=True)")],
        "must_fail": _LOG_N_ALL + [
            "test_gmm_e_step_far", "test_gmm_fit_monotone",
            "test_gmm_fit_recovers_mixture", "test_gmm_responsibilities_normalised",
        ],
    },
    {   # one Gaussian only (no batch of components); the mixture loops over components instead
        "name": "gmm_log_gaussian_not_batched",
        "module": "gmm",
        "replace": [
            (_DIFF_X, "diff = x - mean"),
            (_JOINT_DENSITY, "log_joint = torch.stack([torch.log(weights[k]) + log_gaussian(x, means[k], covs[k])"
                             " for k in range(len(weights))], dim=1)"),
            (_JOINT_E, "log_joint = torch.stack([torch.log(weights[k]) + log_gaussian(x, means[k], covs[k])"
                       " for k in range(len(weights))], dim=1)\n"),
        ],
        "must_fail": ["test_gmm_log_gaussian_batched", "test_gmm_log_gaussian_exact"],
    },  # fmt: skip
    {   # the log-determinant in float32: every log-likelihood is off by ~1e-7, within the exact
        # checks' tolerance, but near convergence that noise makes EM appear to go down
        "name": "gmm_log_gaussian_float32_log_det",
        "module": "gmm",
        "replace": [(_LOGDET, "log_det = (2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1).float()).sum(dim=-1))"
                              ".to(x.dtype)")],
        "must_fail": ["test_gmm_fit_monotone"],
    },  # fmt: skip
    # ---- wrong: gmm_log_density ---------------------------------------------------------
    {   # log of a sum of exponentials: exp underflows to 0 far from the means, log(0) = -inf
        "name": "gmm_log_density_no_logsumexp",
        "module": "gmm",
        "replace": [(_LSE_DENSITY, "return torch.log(torch.exp(log_joint).sum(dim=1))")],
        "must_fail": ["test_gmm_log_density_far"],
    },
    {   # pi_k added instead of log pi_k
        "name": "gmm_log_density_weights_not_logged",
        "module": "gmm",
        "replace": [(_JOINT_DENSITY, "log_joint = weights + log_gaussian(x, means, covs).mT")],
        "must_fail": [
            "test_gmm_log_density", "test_gmm_log_density_exact", "test_gmm_log_density_far", "test_gmm_float32",
        ],
    },
    {   # the largest term only (a hard assignment): below log p(x) where components overlap
        "name": "gmm_log_density_max_not_logsumexp",
        "module": "gmm",
        "replace": [(_LSE_DENSITY, "return log_joint.max(dim=1).values")],
        "must_fail": ["test_gmm_float32", "test_gmm_log_density", "test_gmm_log_density_exact"],
    },
    # ---- wrong: e_step ------------------------------------------------------------------
    {   # the ratio of densities: 0 / 0 = nan where every density underflows
        "name": "gmm_e_step_ratio_of_densities",
        "module": "gmm",
        "replace": [(_RESP, "joint = torch.exp(log_joint)\n"
                            "    responsibilities = joint / joint.sum(dim=1, keepdim=True)")],
        "must_fail": ["test_gmm_e_step_far"],
    },  # fmt: skip
    {   # log p(x) without log-sum-exp in the E-step: -inf far away, and responsibilities nan
        "name": "gmm_e_step_no_logsumexp",
        "module": "gmm",
        "replace": [(_LOG_PX, "log_px = torch.log(torch.exp(log_joint).sum(dim=1, keepdim=True))")],
        "must_fail": ["test_gmm_e_step_far"],
    },
    {   # normalised over data points (columns) instead of components (rows)
        "name": "gmm_e_step_normalised_over_points",
        "module": "gmm",
        "replace": [(_RESP, "responsibilities = torch.softmax(log_joint, dim=0)")],
        "must_fail": _E_STEP_ALL + [
            "test_gmm_responsibilities_normalised", "test_gmm_fit", "test_gmm_fit_monotone",
            "test_gmm_fit_recovers_mixture",
        ],
    },
    {   # the joint pi_k N(x_n; ...), not the posterior: never normalised
        "name": "gmm_e_step_joint_not_posterior",
        "module": "gmm",
        "replace": [(_RESP, "responsibilities = torch.exp(log_joint)")],
        "must_fail": _E_STEP_ALL + [
            "test_gmm_responsibilities_normalised", "test_gmm_fit", "test_gmm_fit_monotone",
            "test_gmm_fit_recovers_mixture",
        ],
    },
    {   # the total log-likelihood where the mean is asked for (also changes what tol means)
        "name": "gmm_e_step_total_log_likelihood",
        "module": "gmm",
        "replace": [(_E_RETURN, "return responsibilities, log_px.sum()")],
        "must_fail": _E_STEP_ALL + ["test_gmm_fit", "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture"],
    },
    # ---- wrong: m_step ------------------------------------------------------------------
    {   # second moments about 0, not about the mean
        "name": "gmm_m_step_cov_not_centred",
        "module": "gmm",
        "replace": [(_DIFF_M, "diff = x.expand(means.shape[0], -1, -1)")],
        "must_fail": _M_STEP_ALL + ["test_gmm_fit", "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture"],
    },
    {   # centred on the mean of all the data, not on mu_k
        "name": "gmm_m_step_cov_centred_on_data_mean",
        "module": "gmm",
        "replace": [(_DIFF_M, "diff = (x - x.mean(dim=0)).expand(means.shape[0], -1, -1)")],
        "must_fail": _M_STEP_ALL + ["test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture"],
    },
    {   # divided by N instead of N_k: small components get small covariances
        "name": "gmm_m_step_cov_divided_by_n",
        "module": "gmm",
        "replace": [(_COVS, "covs = weighted.mT @ diff / N")],
        "must_fail": _M_STEP_ALL + ["test_gmm_fit", "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture"],
    },
    {   # every point counted fully for every component (responsibilities left out)
        "name": "gmm_m_step_cov_unweighted",
        "module": "gmm",
        "replace": [(_WEIGHTED, "weighted = diff")],
        "must_fail": _M_STEP_ALL + ["test_gmm_fit", "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture"],
    },
    {   # the unbiased divisor N_k - 1 (torch.cov's default): not the maximum, and negative for N_k < 1
        "name": "gmm_m_step_cov_unbiased",
        "module": "gmm",
        "replace": [(_COVS, "covs = weighted.mT @ diff / (counts - 1).view(-1, 1, 1)")],
        "must_fail": _M_STEP_ALL + ["test_gmm_fit", "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture"],
    },
    {   # no ridge: a component on one point has covariance 0 and Cholesky fails
        "name": "gmm_m_step_no_ridge",
        "module": "gmm",
        "replace": [(_RIDGE, "covs = covs")],
        "must_fail": [
            "test_gmm_fit_exact", "test_gmm_m_step", "test_gmm_m_step_exact", "test_gmm_m_step_ridge",
            "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture",
        ],
    },
    {   # ridge added to every entry, not only the diagonal: still singular for one point
        "name": "gmm_m_step_ridge_everywhere",
        "module": "gmm",
        "replace": [(_RIDGE, "covs = covs + ridge")],
        "must_fail": [
            "test_gmm_fit_exact", "test_gmm_m_step", "test_gmm_m_step_exact", "test_gmm_m_step_ridge",
            "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture",
        ],
    },
    {   # weights N_k, not N_k / N: they sum to N
        "name": "gmm_m_step_weights_not_normalised",
        "module": "gmm",
        "replace": [(_WEIGHTS, "weights = counts")],
        "must_fail": _M_STEP_ALL + ["test_gmm_fit", "test_gmm_fit_recovers_mixture", "test_gmm_fit_monotone"],
    },
    {   # means divided by N instead of N_k
        "name": "gmm_m_step_means_divided_by_n",
        "module": "gmm",
        "replace": [(_MEANS, "means = responsibilities.mT @ x / N")],
        "must_fail": _M_STEP_ALL + ["test_gmm_fit", "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture"],
    },
    {   # a float64 identity: float32 covariances come back float64
        "name": "gmm_m_step_eye_float64",
        "module": "gmm",
        "replace": [(_RIDGE, "covs = covs + ridge * torch.eye(D, dtype=torch.float64)")],
        "must_fail": ["test_gmm_float32"],
    },
    # ---- wrong: fit_gmm -----------------------------------------------------------------
    {   # records the log-likelihood before each M-step but returns the parameters after it
        "name": "gmm_fit_log_likelihood_one_step_behind",
        "module": "gmm",
        "replace": [(_FIT, """\
    log_likelihoods = []
    for _ in range(n_iter + 1):
        responsibilities, log_likelihood = e_step(x, weights, means, covs)
        log_likelihoods.append(log_likelihood)
        if len(log_likelihoods) > 1 and log_likelihoods[-1] - log_likelihoods[-2] < tol:
            break
        weights, means, covs = m_step(x, responsibilities, ridge)
""")],
        "must_fail": [
            "test_gmm_fit", "test_gmm_fit_exact", "test_gmm_float32", "test_gmm_m_step_ridge",
            "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture",
        ],
    },  # fmt: skip
    {   # never stops early
        "name": "gmm_fit_ignores_tol",
        "module": "gmm",
        "replace": [(_STOP, "if False:")],
        "must_fail": ["test_gmm_fit", "test_gmm_fit_stops_at_tol"],
    },
    {   # stops before recording the last log-likelihood (of the parameters it returns)
        "name": "gmm_fit_stops_before_recording",
        "module": "gmm",
        "replace": [(_FIT, """\
    responsibilities, log_likelihood = e_step(x, weights, means, covs)
    log_likelihoods = [log_likelihood]
    for _ in range(n_iter):
        weights, means, covs = m_step(x, responsibilities, ridge)
        responsibilities, log_likelihood = e_step(x, weights, means, covs)
        if log_likelihood - log_likelihoods[-1] < tol:
            break
        log_likelihoods.append(log_likelihood)
""")],
        "must_fail": ["test_gmm_fit", "test_gmm_fit_stops_at_tol"],
    },  # fmt: skip
    {   # a relative tolerance, |change| / |log-likelihood| < tol
        "name": "gmm_fit_relative_tol",
        "module": "gmm",
        "replace": [(_STOP, "if (log_likelihoods[-1] - log_likelihoods[-2]) / log_likelihoods[-2].abs() < tol:")],
        "must_fail": ["test_gmm_fit_stops_at_tol"],
    },
    {   # the ridge is not passed on: m_step's default 1e-6 always
        "name": "gmm_fit_ridge_not_passed",
        "module": "gmm",
        "replace": [(_M_CALL, "weights, means, covs = m_step(x, responsibilities)")],
        "must_fail": ["test_gmm_fit_exact", "test_gmm_m_step_ridge"],
    },
    # ---- cheats: points without the math (THREATS.md, 20) ------------------------------
    {   # uniform responsibilities: rows sum to 1, but they are not the posterior
        "name": "gmm_cheat_e_step_uniform_responsibilities",
        "module": "gmm",
        "replace": [(_RESP, "responsibilities = torch.full_like(log_joint, 1.0 / log_joint.shape[1])")],
        "must_fail": [
            "test_gmm_e_step", "test_gmm_e_step_exact", "test_gmm_e_step_far", "test_gmm_fit_exact",
            "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture", "test_gmm_fit_stops_at_tol",
            "test_gmm_float32", "test_gmm_m_step_ridge", "test_gmm_responsibilities_normalised",
        ],  # fmt: skip
    },
    {   # EM runs, but the curve it reports is made up: flat, so it never decreases
        "name": "gmm_cheat_fit_flat_curve",
        "module": "gmm",
        "replace": [(_FIT + "    return weights, means, covs, torch.stack(log_likelihoods)", """\
    for _ in range(n_iter):
        weights, means, covs = m_step(x, e_step(x, weights, means, covs)[0], ridge)
    last = e_step(x, weights, means, covs)[1]
    return weights, means, covs, torch.stack([last, last])""")],
        "must_fail": [
            "test_gmm_fit", "test_gmm_fit_exact", "test_gmm_fit_monotone", "test_gmm_fit_recovers_mixture",
            "test_gmm_fit_stops_at_tol", "test_gmm_float32", "test_gmm_m_step_ridge",
        ],  # fmt: skip
    },
    {   # a lookup table: the public tests' inputs memorised with their answers, garbage for any other input
        "name": "gmm_cheat_lookup_table",
        "module": "gmm",
        "replace": [
            ("import torch\n", "import torch\n\n" + _LOOKUP),
            ("# BEGIN SOLUTION\n    D = x.shape[-1]",
             "if not _public(x):\n        return torch.zeros(mean.shape[:-1] + x.shape[:1], dtype=x.dtype)\n"
             "    D = x.shape[-1]"),
            (f"# BEGIN SOLUTION\n    {_JOINT_DENSITY}",
             f"if not _public(x):\n        return torch.zeros(x.shape[:1], dtype=x.dtype)\n    {_JOINT_DENSITY}"),
            (f"# BEGIN SOLUTION\n    {_JOINT_E}",
             "if not _public(x):\n        return torch.zeros(x.shape[0], len(weights), dtype=x.dtype), x.sum()\n"
             f"    {_JOINT_E}"),
            ("# BEGIN SOLUTION\n    N, D = x.shape",
             "if not _public(x):\n        return torch.ones(1), x[:1], x[:1]\n    N, D = x.shape"),
            ("# BEGIN SOLUTION\n    responsibilities, log_likelihood = e_step(x, weights, means, covs)",
             "if not _public(x):\n        return weights, means, covs, torch.zeros(2, dtype=x.dtype)\n"
             "    responsibilities, log_likelihood = e_step(x, weights, means, covs)"),
        ],
        "must_fail": [
            "test_gmm_e_step_exact", "test_gmm_e_step_far", "test_gmm_fit_exact", "test_gmm_fit_monotone",
            "test_gmm_fit_recovers_mixture", "test_gmm_fit_stops_at_tol", "test_gmm_float32",
            "test_gmm_log_density_exact", "test_gmm_log_density_far", "test_gmm_log_gaussian_exact",
            "test_gmm_m_step_exact", "test_gmm_m_step_ridge", "test_gmm_responsibilities_normalised",
        ],  # fmt: skip
    },
    # ---- correct: full marks ------------------------------------------------------------
    {   # explicit inverse and log-determinant instead of Cholesky
        "name": "gmm_ok_inverse_and_logdet",
        "module": "gmm",
        "replace": [
            (_Z, ""),
            (_MAHA, "mahalanobis = ((diff @ torch.linalg.inv(cov)) * diff).sum(dim=-1)"),
            (_LOGDET, "log_det = torch.logdet(cov)"),
        ],
        "must_fail": [],
    },
    {   # slogdet and a general solve
        "name": "gmm_ok_slogdet_and_solve",
        "module": "gmm",
        "replace": [
            (_Z, "z = torch.linalg.solve(cov, diff.mT)  # (..., D, N): Sigma^-1 (x - mu)"),
            (_MAHA, "mahalanobis = (diff.mT * z).sum(dim=-2)"),
            (_LOGDET, "log_det = torch.linalg.slogdet(cov).logabsdet"),
        ],
        "must_fail": [],
    },
    {   # torch.distributions does it all (a (K, 1) batch against N points gives (K, N))
        "name": "gmm_ok_torch_distributions",
        "module": "gmm",
        "replace": [(_LOG_N, "return torch.distributions.MultivariateNormal(mean.unsqueeze(-2), cov.unsqueeze(-3))"
                             ".log_prob(x)")],
        "must_fail": [],
    },  # fmt: skip
    {   # responsibilities exponentiated in float32: off by ~1e-7 relative, within the tolerance, and
        # the M-step's result moves only to second order in the log-likelihood, so EM stays monotone
        "name": "gmm_ok_float32_responsibilities",
        "module": "gmm",
        "replace": [(_RESP, "responsibilities = torch.exp((log_joint - log_px).float()).to(x.dtype)")],
        "must_fail": [],
    },
    {   # a loop over the components, and log-sum-exp by hand
        "name": "gmm_ok_loop_and_manual_logsumexp",
        "module": "gmm",
        "replace": [
            (_JOINT_DENSITY, "log_joint = torch.stack([torch.log(weights[k]) + log_gaussian(x, means[k], covs[k])"
                             " for k in range(len(weights))], dim=1)"),
            (_LSE_DENSITY, "top = log_joint.max(dim=1, keepdim=True).values  # (N, 1)\n"
                           "    return (top + torch.log(torch.exp(log_joint - top).sum(dim=1, keepdim=True)))"
                           ".squeeze(1)"),
        ],
        "must_fail": [],
    },  # fmt: skip
    {   # softmax for the responsibilities, the mean as a sum over N
        "name": "gmm_ok_softmax_responsibilities",
        "module": "gmm",
        "replace": [
            (_RESP, "responsibilities = torch.softmax(log_joint, dim=1)"),
            (_E_RETURN, "return responsibilities, log_px.sum() / x.shape[0]"),
        ],
        "must_fail": [],
    },
    {   # einsum for every reduction, weights normalised by their sum
        "name": "gmm_ok_einsum_m_step",
        "module": "gmm",
        "replace": [
            (_WEIGHTS, "weights = counts / counts.sum()"),
            (_MEANS, "means = torch.einsum('nk,nd->kd', responsibilities, x) / counts[:, None]"),
            (_WEIGHTED, ""),
            (_COVS, "covs = torch.einsum('nk,kni,knj->kij', responsibilities, diff, diff) / counts[:, None, None]"),
        ],
        "must_fail": [],
    },
    {   # square roots of the responsibilities: A^T A, symmetric by construction
        "name": "gmm_ok_sqrt_responsibilities",
        "module": "gmm",
        "replace": [
            (_WEIGHTED, "weighted = responsibilities.mT.sqrt().unsqueeze(-1) * diff  # (K, N, D)"),
            (_COVS, "covs = weighted.mT @ weighted / counts.view(-1, 1, 1)"),
        ],
        "must_fail": [],
    },
    {   # E[x x^T] - mu mu^T: algebraically the same (loses digits only for data far from 0)
        "name": "gmm_ok_second_moment_minus_outer_mean",
        "module": "gmm",
        "replace": [
            (_WEIGHTED, "second = torch.einsum('nk,ni,nj->kij', responsibilities, x, x) / counts[:, None, None]"),
            (_COVS, "covs = second - means.unsqueeze(-1) * means.unsqueeze(-2)"),
        ],
        "must_fail": [],
    },
    {   # stops on the absolute change (the same thing, since EM never decreases)
        "name": "gmm_ok_fit_absolute_change",
        "module": "gmm",
        "replace": [(_STOP, "if abs(log_likelihoods[-1] - log_likelihoods[-2]) < tol:")],
        "must_fail": [],
    },
    {   # a while loop and a preallocated tensor of log-likelihoods
        "name": "gmm_ok_fit_while_loop",
        "module": "gmm",
        "replace": [
            (_FIT, """\
    history = torch.empty(n_iter + 1, dtype=x.dtype)
    responsibilities, history[0] = e_step(x, weights, means, covs)
    t = 0
    while t < n_iter:
        t += 1
        weights, means, covs = m_step(x, responsibilities, ridge)
        responsibilities, history[t] = e_step(x, weights, means, covs)
        if history[t] < history[t - 1] + tol:
            break
    log_likelihoods = list(history[: t + 1])
"""),
        ],
        "must_fail": [],
    },  # fmt: skip
]
