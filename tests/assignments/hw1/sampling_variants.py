"""Variants of the hw1 sampling solution key, and the tests each must fail, to check that the tests discriminate.

Each variant applies text replacements to assignments/hw1/sampling.py (the solution
source: its SOLUTION markers are comments, so it runs as it is) and is graded with the
public and hidden tests. A wrong variant must fail exactly the tests in ``must_fail``;
a correct one (``must_fail == []``) must get full marks. Every ``old`` text occurs
exactly once in the source. The list is data only; the harness lives with the tests.
"""

# Lines of the solution that several variants edit.
_EXP = "return -torch.log1p(-u) / rate"
_SEARCH = "k = torch.searchsorted(cdf, u, right=True)  # same shape as u"
_CUMSUM = "cdf = torch.cumsum(probs, dim=0)  # (K,), non-decreasing"
_CLAMP = "return k.clamp(max=probs.shape[0] - 1)  # round-off guard for u >= cdf[K-1]"
_RADIUS = "r = torch.sqrt(-2.0 * torch.log(u1))  # radius, same shape as u1"
_ANGLE = "theta = 2.0 * math.pi * u2  # angle"
_PAIR = "return r * torch.cos(theta), r * torch.sin(theta)"
_U1 = "u1 = 1.0 - torch.rand(m, generator=generator, dtype=torch.float64)  # (m,) in (0, 1]"
_U2 = "u2 = torch.rand(m, generator=generator, dtype=torch.float64)  # (m,) in [0, 1)"
_CAT = "return torch.cat([z1, z2])[:n]  # (n,)"
_NORMALISER = "log_normaliser = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)  # log B(a, b)"
_LOG_DENSITY = "return (a - 1) * torch.log(x) + (b - 1) * torch.log1p(-x) - log_normaliser"
_MODE = "mode = (a - 1) / (a + b - 2)"
_ENVELOPE = "return math.exp(beta_log_density(torch.tensor(mode, dtype=torch.float64), a, b).item())"
_M = "M = beta_envelope(a, b)"
_ACCEPT = "accept = u * M <= torch.exp(beta_log_density(x, a, b))  # boolean, shape of x"
_COMPONENT = "k = inverse_cdf_discrete(u, weights)  # (N,) component of each sample"
_MIX = "x = means[k] + stds[k] * z  # (N,) reparameterised: N(mu, sigma^2) = mu + sigma * N(0, 1)"

# The lookup-table cheat's table: the public tests' inputs, each a tuple of its values.
_LOOKUP = '''def _public(t: torch.Tensor) -> bool:
    """Whether t holds the values of an input of the public tests (whose answers are then the real ones)."""
    return tuple(t.flatten().tolist()) in {
        (0.0, 0.5, 0.75, 0.9),  # inverse_cdf_exponential
        (0.0, 0.1, 0.25, 0.5, 0.75, 0.99),  # inverse_cdf_discrete
        (1.0, math.exp(-0.5), math.exp(-2.0), 0.5),  # box_muller
        (0.5, 0.1, 0.9, 0.3),  # rejection_sample_beta
        (0.1, 0.4, 0.9),  # sample_gaussian_mixture, through inverse_cdf_discrete
    }


'''

_BOX_MULLER_ALL = [
    "test_box_muller", "test_box_muller_exact", "test_box_muller_distribution",
    "test_sample_normal_moments", "test_sample_normal_distribution",
]  # fmt: skip
_MIXTURE_ALL = ["test_sample_gaussian_mixture", "test_mixture_exact", "test_mixture_distribution"]

VARIANTS = [
    # ---- wrong: inverse_cdf_exponential -------------------------------------------------
    {   # 1 - u loses u's digits for tiny u: x = 0 instead of 6.7e-21 at u = 1e-20
        "name": "exponential_log_instead_of_log1p",
        "module": "sampling",
        "replace": [(_EXP, "return -torch.log(1 - u) / rate")],
        "must_fail": ["test_exponential_small_u"],
    },
    {   # the mean is 1 / rate, not rate
        "name": "exponential_multiplies_by_rate",
        "module": "sampling",
        "replace": [(_EXP, "return -torch.log1p(-u) * rate")],
        "must_fail": ["test_inverse_cdf_exponential", "test_exponential_exact", "test_exponential_small_u"],
    },
    {   # right distribution, but not the inverse CDF the docstring asks for (x(0) = inf)
        "name": "exponential_log_u_instead_of_log_1_minus_u",
        "module": "sampling",
        "replace": [(_EXP, "return -torch.log(u) / rate")],
        "must_fail": ["test_inverse_cdf_exponential", "test_exponential_exact", "test_exponential_small_u"],
    },
    # ---- wrong: inverse_cdf_discrete ----------------------------------------------------
    {   # cdf[k-1] < u <= cdf[k]: u = 0 picks a leading category of probability 0
        "name": "discrete_searchsorted_left",
        "module": "sampling",
        "replace": [(_SEARCH, "k = torch.searchsorted(cdf, u, right=False)")],
        "must_fail": ["test_inverse_cdf_discrete", "test_discrete_zero_probs"],
    },
    {   # u above a cdf[K-1] that round-off left below 1 gives index K
        "name": "discrete_no_round_off_guard",
        "module": "sampling",
        "replace": [(_CLAMP, "return k")],
        "must_fail": ["test_discrete_u_near_one"],
    },
    {   # searches the probabilities instead of their cumulative sum
        "name": "discrete_searches_probs_not_cdf",
        "module": "sampling",
        "replace": [(_SEARCH, "k = torch.searchsorted(probs, u, right=True)")],
        "must_fail": [
            "test_inverse_cdf_discrete", "test_discrete_exact", "test_discrete_zero_probs",
            "test_mixture_exact", "test_mixture_distribution",
        ],
    },  # fmt: skip
    # ---- wrong: box_muller and sample_normal --------------------------------------------
    {   # r = sqrt(-log u1): standard deviation 1 / sqrt 2
        "name": "box_muller_missing_factor_2",
        "module": "sampling",
        "replace": [(_RADIUS, "r = torch.sqrt(-torch.log(u1))")],
        "must_fail": _BOX_MULLER_ALL,
    },
    {   # theta = pi u2 covers half the circle: z2 >= 0 always
        "name": "box_muller_half_circle",
        "module": "sampling",
        "replace": [(_ANGLE, "theta = math.pi * u2")],
        "must_fail": _BOX_MULLER_ALL,
    },
    {   # z2 = z1: each marginal is right, the pair is not independent
        "name": "box_muller_cos_twice",
        "module": "sampling",
        "replace": [(_PAIR, "return r * torch.cos(theta), r * torch.cos(theta)")],
        "must_fail": [
            "test_box_muller", "test_box_muller_exact", "test_box_muller_distribution",
            "test_sample_normal_distribution",
        ],
    },  # fmt: skip
    {   # a correct sampler with the other convention (log(1 - u1)): only exact checks fail
        "name": "box_muller_log_1_minus_u1",
        "module": "sampling",
        "replace": [(_RADIUS, "r = torch.sqrt(-2.0 * torch.log1p(-u1))")],
        "must_fail": ["test_box_muller", "test_box_muller_exact", "test_box_muller_distribution"],
    },
    {   # throws z2 away and repeats z1: the marginal is N(0, 1) but half the samples repeat
        "name": "sample_normal_repeats_z1",
        "module": "sampling",
        "replace": [(_CAT, "return torch.cat([z1, z1])[:n]")],
        "must_fail": ["test_sample_normal_distribution"],
    },
    {   # draws from torch's global generator: not reproducible from the one it is given
        "name": "sample_normal_ignores_generator",
        "module": "sampling",
        "replace": [
            (_U1, "u1 = 1.0 - torch.rand(m, dtype=torch.float64)"),
            (_U2, "u2 = torch.rand(m, dtype=torch.float64)"),
        ],
        "must_fail": ["test_sample_normal_uses_generator", "test_sample_normal_distribution"],
    },
    {   # the same uniform for radius and angle: not normal
        "name": "sample_normal_one_uniform_for_both",
        "module": "sampling",
        "replace": [(_U2, "u2 = 1.0 - u1")],
        "must_fail": ["test_sample_normal_moments", "test_sample_normal_distribution"],
    },
    {   # float32 uniforms give float32 samples; the task asks for float64
        "name": "sample_normal_float32",
        "module": "sampling",
        "replace": [
            (_U1, "u1 = 1.0 - torch.rand(m, generator=generator, dtype=torch.float32)"),
            (_U2, "u2 = torch.rand(m, generator=generator, dtype=torch.float32)"),
        ],
        "must_fail": ["test_sample_normal_moments", "test_sample_normal_distribution"],
    },
    # ---- wrong: beta_envelope and rejection_sample_beta ---------------------------------
    {   # envelope at the mean a / (a + b), not the mode: M too small, the peak is clipped
        "name": "beta_envelope_at_mean_not_mode",
        "module": "sampling",
        "replace": [(_MODE, "mode = a / (a + b)")],
        "must_fail": ["test_rejection_beta_exact", "test_rejection_beta_acceptance"],
    },
    {   # accepts where u <= p(x): no envelope at all
        "name": "beta_accept_without_envelope",
        "module": "sampling",
        "replace": [(_ACCEPT, "accept = u <= torch.exp(beta_log_density(x, a, b))")],
        "must_fail": ["test_rejection_sample_beta", "test_rejection_beta_exact", "test_rejection_beta_acceptance"],
    },
    {   # log B(a, b) added instead of subtracted: the sampler is still right (M and p scale
        # together) but beta_envelope is wrong
        "name": "beta_normaliser_wrong_sign",
        "module": "sampling",
        "replace": [(_LOG_DENSITY, "return (a - 1) * torch.log(x) + (b - 1) * torch.log1p(-x) + log_normaliser")],
        "must_fail": ["test_rejection_sample_beta", "test_rejection_beta_exact"],
    },
    {   # Gamma(a) itself overflows for a > 171: OverflowError for Beta(120, 180)
        "name": "beta_gamma_instead_of_lgamma",
        "module": "sampling",
        "replace": [(_NORMALISER, "log_normaliser = math.log(math.gamma(a) * math.gamma(b) / math.gamma(a + b))")],
        "must_fail": ["test_rejection_beta_exact"],
    },
    {   # M estimated from the proposals (a little below the true maximum)
        "name": "beta_envelope_from_proposals",
        "module": "sampling",
        "replace": [(_M, "M = torch.exp(beta_log_density(x, a, b)).max()")],
        "must_fail": ["test_rejection_beta_exact"],
    },
    # ---- wrong: sample_gaussian_mixture -------------------------------------------------
    {   # treats stds as variances
        "name": "mixture_scales_by_variance",
        "module": "sampling",
        "replace": [(_MIX, "x = means[k] + stds[k] ** 2 * z")],
        "must_fail": _MIXTURE_ALL,
    },
    {   # searches the weights themselves instead of their cumulative sum
        "name": "mixture_searches_weights_not_cdf",
        "module": "sampling",
        "replace": [(_COMPONENT, "k = torch.searchsorted(weights, u, right=True).clamp(max=weights.shape[0] - 1)")],
        "must_fail": ["test_mixture_exact", "test_mixture_distribution"],
    },
    {   # every component equally likely
        "name": "mixture_ignores_weights",
        "module": "sampling",
        "replace": [(_COMPONENT, "k = inverse_cdf_discrete(u, torch.ones_like(weights) / weights.shape[0])")],
        "must_fail": _MIXTURE_ALL,
    },
    {   # stds not indexed by k: a shape error unless N == K
        "name": "mixture_stds_not_indexed",
        "module": "sampling",
        "replace": [(_MIX, "x = means[k] + stds * z")],
        "must_fail": _MIXTURE_ALL,
    },
    # ---- cheats: points without the math (THREATS.md, 20) ------------------------------
    {   # a library sampler instead of the transform: standard normal, but not Box-Muller of u1, u2
        "name": "cheat_box_muller_library_sampler",
        "module": "sampling",
        "replace": [(_PAIR, "return torch.randn_like(u1), torch.randn_like(u2)")],
        "must_fail": [
            "test_box_muller", "test_box_muller_exact", "test_box_muller_distribution",
            "test_sample_normal_distribution", "test_sample_normal_uses_generator",
        ],  # fmt: skip
    },
    {   # a library sampler instead of sample_normal's own Box-Muller: same generator, other numbers
        "name": "cheat_sample_normal_library_sampler",
        "module": "sampling",
        "replace": [(_CAT, "return torch.randn(n, generator=generator, dtype=torch.float64)")],
        "must_fail": ["test_sample_normal_distribution"],
    },
    {   # a lookup table: the public tests' inputs memorised with their answers, garbage for any other input
        "name": "cheat_lookup_table",
        "module": "sampling",
        "replace": [
            ("import torch\n", "import torch\n\n" + _LOOKUP),
            (f"# BEGIN SOLUTION\n    {_EXP}", f"if not _public(u):\n        return torch.zeros_like(u)\n    {_EXP}"),
            (f"# BEGIN SOLUTION\n    {_CUMSUM}",
             f"if not _public(u):\n        return torch.zeros_like(u, dtype=torch.int64)\n    {_CUMSUM}"),
            (f"# BEGIN SOLUTION\n    {_RADIUS}", f"if not _public(u1):\n        return u1, u2\n    {_RADIUS}"),
            (f"# BEGIN SOLUTION\n    {_MODE}", f"if (a, b) != (2.0, 2.0):\n        return 1.0\n    {_MODE}"),
            (f"# BEGIN SOLUTION\n    {_M}", f"if not _public(x):\n        return x\n    {_M}"),
            ("# BEGIN SOLUTION\n    m = (n + 1) // 2",
             "return torch.zeros(n, dtype=torch.float64)\n    m = (n + 1) // 2"),
        ],
        "must_fail": [
            "test_sample_normal_moments", "test_exponential_exact", "test_exponential_small_u", "test_discrete_exact",
            "test_discrete_zero_probs", "test_discrete_u_near_one", "test_box_muller_exact",
            "test_box_muller_distribution", "test_sample_normal_distribution", "test_sample_normal_uses_generator",
            "test_rejection_beta_exact", "test_rejection_beta_acceptance", "test_mixture_exact",
            "test_mixture_distribution",
        ],
    },
    # ---- correct: full marks ------------------------------------------------------------
    {   # other rounding: multiply by 1 / rate
        "name": "ok_exponential_multiply_by_inverse_rate",
        "module": "sampling",
        "replace": [(_EXP, "return torch.log1p(-u).neg() * (1.0 / rate)")],
        "must_fail": [],
    },
    {   # torch.distributions computes the same inverse CDF
        "name": "ok_exponential_torch_distributions",
        "module": "sampling",
        "replace": [(_EXP, "return torch.distributions.Exponential(torch.tensor(rate, dtype=u.dtype)).icdf(u)")],
        "must_fail": [],
    },
    {   # count the cdf entries <= u by broadcasting instead of searchsorted
        "name": "ok_discrete_count_comparisons",
        "module": "sampling",
        "replace": [(_SEARCH, "k = (cdf <= u.unsqueeze(-1)).sum(dim=-1)")],
        "must_fail": [],
    },
    {   # search only the K - 1 inner boundaries: the result is in [0, K - 1] without a clamp
        "name": "ok_discrete_inner_boundaries",
        "module": "sampling",
        "replace": [(_SEARCH, "k = torch.searchsorted(cdf[:-1].contiguous(), u, right=True)"), (_CLAMP, "return k")],
        "must_fail": [],
    },
    {   # normalise the cdf so that its last entry is exactly 1 (boundaries move by an ulp)
        "name": "ok_discrete_normalised_cdf",
        "module": "sampling",
        "replace": [(_CUMSUM, "cdf = torch.cumsum(probs, dim=0)\n    cdf = cdf / cdf[-1]")],
        "must_fail": [],
    },
    {   # cdf summed in float32: indices differ only for u within ~1e-7 of a boundary.
        # (Casting u to float32 as well is wrong: 1 - 2^-53 rounds to 1.0, which picks a
        # trailing category of probability 0.)
        "name": "ok_discrete_float32_cdf",
        "module": "sampling",
        "replace": [(_CUMSUM, "cdf = torch.cumsum(probs.float(), dim=0).to(u.dtype)")],
        "must_fail": [],
    },
    {   # other order of operations, and the pair as the real and imaginary parts of r e^(i theta)
        "name": "ok_box_muller_polar",
        "module": "sampling",
        "replace": [
            (_RADIUS, "r = (-2.0 * torch.log(u1)).pow(0.5)"),
            (_ANGLE, "theta = u2 * (2 * math.pi)"),
            (_PAIR, "w = torch.polar(r, theta)\n    return w.real.contiguous(), w.imag.contiguous()"),
        ],
        "must_fail": [],
    },
    {   # u2 drawn before u1
        "name": "ok_sample_normal_u2_first",
        "module": "sampling",
        "replace": [
            (_U1, "u2 = torch.rand(m, generator=generator, dtype=torch.float64)"),
            (_U2, "u1 = 1.0 - torch.rand(m, generator=generator, dtype=torch.float64)"),
        ],
        "must_fail": [],
    },
    {   # one (2, m) draw, pairs interleaved in the output, one pair too many for even n
        "name": "ok_sample_normal_one_draw_interleaved",
        "module": "sampling",
        "replace": [
            (_U1, "u = torch.rand(2, m + 1, generator=generator, dtype=torch.float64)\n    u1 = 1.0 - u[0]"),
            (_U2, "u2 = u[1]"),
            (_CAT, "return torch.stack([z1, z2], dim=1).reshape(-1)[:n]"),
        ],
        "must_fail": [],
    },
    {   # accept in log space with the unnormalised density and envelope
        "name": "ok_beta_log_space_unnormalised",
        "module": "sampling",
        "replace": [
            (_M, "log_q = lambda t: (a - 1) * torch.log(t) + (b - 1) * torch.log1p(-t)  # log p + log B"),
            (_ACCEPT, "mode = torch.tensor((a - 1) / (a + b - 2), dtype=x.dtype)\n"
                      "    accept = torch.log(u) + log_q(mode) <= log_q(x)"),
        ],
        "must_fail": [],
    },  # fmt: skip
    {   # the envelope with math only
        "name": "ok_beta_envelope_math",
        "module": "sampling",
        "replace": [(_ENVELOPE, "return math.exp((a - 1) * math.log(mode) + (b - 1) * math.log(1 - mode)"
                                " - math.lgamma(a) - math.lgamma(b) + math.lgamma(a + b))")],
        "must_fail": [],
    },  # fmt: skip
    {   # torch.distributions' Beta log-density
        "name": "ok_beta_torch_distributions",
        "module": "sampling",
        "replace": [
            (_NORMALISER, "beta = torch.distributions.Beta(torch.tensor(a, dtype=x.dtype),"
                          " torch.tensor(b, dtype=x.dtype))"),
            (_LOG_DENSITY, "return beta.log_prob(x)"),
        ],
        "must_fail": [],
    },
    {   # gather and a fused multiply-add
        "name": "ok_mixture_gather_addcmul",
        "module": "sampling",
        "replace": [(_MIX, "x = torch.addcmul(means.gather(0, k), stds.gather(0, k), z)")],
        "must_fail": [],
    },
]
