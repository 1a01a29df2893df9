"""Variants of the hw2 losses solution key (losses.py), and the tests each must fail.

Same format as hw1's: each variant applies text replacements to assignments/hw2/losses.py (the
solution source: its SOLUTION markers are comments, so it runs as it is) and is graded with
test_losses.py and test_losses_hidden.py, the other hand-in files being the key's. A wrong
variant must fail exactly the tests in ``must_fail``; a correct one (``must_fail == []``) must
get full marks. Every ``old`` text occurs exactly once in the source. Names are unique across
hw2 and start with ``losses_``. The list is data only; the harness lives with the tests.
"""

# Lines of the solution that several variants edit.
_B = "B = x1.shape[0]"
_NLL = "nll = squared.sum(1) / (2 * sigma**2) + 0.5 * D * math.log(2 * math.pi * sigma**2)  # (B,) -log p(x|z)"
_KL = "kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)  # (B,)"
_GAUSS_RETURN = "return nll.mean(), kl.mean()"
_LOG_Q = "log_q = -0.5 * (logvar + (z - mu).pow(2) / logvar.exp()).sum(1)  # (B,) log q(z|x) + const"
_LOG_P = "log_p = -0.5 * z.pow(2).sum(1)  # (B,) log p(z) + the same const"
_MC_RETURN = "return reconstruction, (log_q - log_p).mean()"
_CE = 'return F.binary_cross_entropy_with_logits(x1, x2, reduction="sum") / x1.shape[0]'
_DISC_REC = "reconstruction = cross_entropy(x1, x2)\n    minus_log_p"
_MINUS_LOG_P = "minus_log_p = 0.5 * z.pow(2).sum(1)  # (B,) -log p(z) without its constant"
_DISC_RETURN = "return reconstruction, (minus_log_p - logqzx).mean()  # log q - log p = -logqzx - (-minus_log_p)"
_LOG_W = "log_w = log_px_given_z - 0.5 * z.pow(2).sum(-1) + logqzx  # (k, B)"
_LSE = "return torch.logsumexp(log_w, dim=0) - math.log(k)  # (B,)"

# Tests that each function's bugs show up in.
_GAUSS_REC = ["test_gaussian_elbo_by_hand", "test_mc_gaussian_elbo_by_hand", "test_gaussian_elbo_exact",
              "test_mc_gaussian_elbo_exact", "test_gaussian_elbo_bound"]
_KL_ALL = ["test_gaussian_elbo_by_hand", "test_gaussian_elbo_exact", "test_gaussian_kl_vs_monte_carlo",
           "test_gaussian_elbo_bound"]
_MC_KL = ["test_mc_gaussian_elbo_by_hand", "test_mc_gaussian_elbo_exact", "test_gaussian_kl_vs_monte_carlo",
          "test_gaussian_elbo_bound"]
_DISC_KL = ["test_discrete_output_elbo_by_hand", "test_discrete_output_elbo_exact"]
_IWAE_ALL = ["test_importance_weighted_bound_by_hand", "test_iwae_exact", "test_iwae_rises_to_log_px",
             "test_iwae_exact_posterior"]

VARIANTS = [
    # ---- wrong: Gaussian reconstruction -----------------------------------------------------
    {   # averaged over pixels (F.mse_loss's default): the KL then weighs D times too much
        "name": "losses_gaussian_reconstruction_mean_over_pixels",
        "module": "losses",
        "replace": [(_NLL, "nll = squared.mean(1) / (2 * sigma**2) + 0.5 * math.log(2 * math.pi * sigma**2)")],
        "must_fail": _GAUSS_REC,
    },
    {   # summed over the batch instead of averaged: the loss grows with the batch size
        "name": "losses_gaussian_sum_over_batch",
        "module": "losses",
        "replace": [(_GAUSS_RETURN, "return nll.sum(), kl.sum()")],
        "must_fail": _GAUSS_REC,  # the KL check uses a batch of 1
    },
    {   # 1 / (2 sigma) instead of 1 / (2 sigma^2), seen in course submissions
        "name": "losses_gaussian_sigma_not_squared",
        "module": "losses",
        "replace": [(_NLL, "nll = squared.sum(1) / (2 * sigma) + 0.5 * D * math.log(2 * math.pi * sigma**2)")],
        "must_fail": _GAUSS_REC,
    },
    {   # the constant without sigma: neither the full log-density nor the one without its constant
        "name": "losses_gaussian_constant_without_sigma",
        "module": "losses",
        "replace": [(_NLL, "nll = squared.sum(1) / (2 * sigma**2) + 0.5 * D * math.log(2 * math.pi)")],
        "must_fail": _GAUSS_REC,
    },
    # ---- wrong: closed-form KL --------------------------------------------------------------
    {   # the textbook -KL (the ELBO's term) used as the loss's KL: the divergence is negative
        "name": "losses_kl_sign_flipped",
        "module": "losses",
        "replace": [(_KL, "kl = 0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)")],
        "must_fail": _KL_ALL,
    },
    {
        "name": "losses_kl_missing_half",
        "module": "losses",
        "replace": [(_KL, "kl = (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)")],
        "must_fail": _KL_ALL,
    },
    {   # a beta-VAE weight left in (beta = 0.4, seen in course submissions)
        "name": "losses_kl_scaled",
        "module": "losses",
        "replace": [(_KL, "kl = 0.4 * 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)")],
        "must_fail": _KL_ALL,
    },
    {   # averaged over the latents instead of summed
        "name": "losses_kl_mean_over_latents",
        "module": "losses",
        "replace": [(_KL, "kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean(1)")],
        "must_fail": _KL_ALL,
    },
    {   # the standard deviation where the variance belongs
        "name": "losses_kl_std_for_variance",
        "module": "losses",
        "replace": [(_KL, "kl = 0.5 * (mu.pow(2) + (logvar / 2).exp() - 1 - logvar).sum(1)")],
        "must_fail": _KL_ALL,
    },
    # ---- wrong: Monte Carlo KL --------------------------------------------------------------
    {   # -0.5 log(2 pi) per latent in log q(z|x) only: the KL is off by (d / 2) log(2 pi)
        "name": "losses_mc_log_2pi_on_one_side",
        "module": "losses",
        "replace": [(_LOG_Q, "log_q = -0.5 * (logvar + math.log(2 * math.pi) + (z - mu).pow(2) / logvar.exp()).sum(1)")],
        "must_fail": _MC_KL,
    },
    {
        "name": "losses_mc_kl_sign_flipped",
        "module": "losses",
        "replace": [(_MC_RETURN, "return reconstruction, (log_p - log_q).mean()")],
        "must_fail": _MC_KL,
    },
    {   # the closed form instead of the estimate at the given z
        "name": "losses_mc_uses_closed_form",
        "module": "losses",
        "replace": [(_MC_RETURN, "return gaussian_elbo(x1, x2, z, sigma, mu, logvar)")],
        "must_fail": ["test_mc_gaussian_elbo_by_hand", "test_mc_gaussian_elbo_exact", "test_gaussian_kl_vs_monte_carlo",
                      "test_gaussian_elbo_bound"],
    },
    # ---- wrong: Bernoulli ELBO --------------------------------------------------------------
    {   # the course's sign trap: logqzx is MINUS log q, so adding it adds log q's negative
        "name": "losses_discrete_logqzx_sign_trap",
        "module": "losses",
        "replace": [(_DISC_RETURN, "return reconstruction, (minus_log_p + logqzx).mean()")],
        "must_fail": _DISC_KL,
    },
    {   # log p(z) with the wrong sign: the KL estimate becomes -0.5 |z|^2 - logqzx
        "name": "losses_discrete_prior_sign",
        "module": "losses",
        "replace": [(_DISC_RETURN, "return reconstruction, (-minus_log_p - logqzx).mean()")],
        "must_fail": _DISC_KL,
    },
    {   # binary_cross_entropy_with_logits' default reduction: a mean over every pixel
        "name": "losses_discrete_reconstruction_mean_over_pixels",
        "module": "losses",
        "replace": [(_DISC_REC, "reconstruction = F.binary_cross_entropy_with_logits(x1, x2)\n    minus_log_p")],
        "must_fail": ["test_discrete_output_elbo_by_hand", "test_discrete_output_elbo_stable",
                      "test_discrete_output_elbo_exact", "test_discrete_output_elbo_large_logits"],
    },
    {
        "name": "losses_discrete_sum_over_batch",
        "module": "losses",
        "replace": [(_DISC_RETURN, "return reconstruction * x1.shape[0], (minus_log_p - logqzx).sum()")],
        "must_fail": ["test_discrete_output_elbo_by_hand", "test_discrete_output_elbo_stable",
                      "test_discrete_output_elbo_exact", "test_discrete_output_elbo_large_logits"],
    },
    {   # log(sigmoid): 1 - sigmoid(100) is exactly 0, and 0 * log(0) is NaN
        "name": "losses_naive_unstable_bce",
        "module": "losses",
        "replace": [(_CE, "p = torch.sigmoid(x1)\n"
                          "    return -(x2 * torch.log(p) + (1 - x2) * torch.log(1 - p)).sum() / x1.shape[0]")],
        "must_fail": ["test_discrete_output_elbo_stable", "test_discrete_output_elbo_large_logits"],
    },
    # ---- wrong: importance weighting --------------------------------------------------------
    {   # the mean of the log-weights is the ELBO for every k: it does not tighten
        "name": "losses_iwae_mean_of_log_weights",
        "module": "losses",
        "replace": [(_LSE, "return log_w.mean(0)")],
        "must_fail": ["test_importance_weighted_bound_by_hand", "test_iwae_exact", "test_iwae_rises_to_log_px"],
    },
    {   # log of the mean of exp without the max shift: exp(-1000) underflows to 0, log gives -inf
        "name": "losses_iwae_naive_exp",
        "module": "losses",
        "replace": [(_LSE, "return torch.log(torch.exp(log_w).mean(0))")],
        "must_fail": ["test_iwae_exact"],
    },
    {   # without -log k the estimate exceeds log p(x) by log k
        "name": "losses_iwae_no_log_k",
        "module": "losses",
        "replace": [(_LSE, "return torch.logsumexp(log_w, dim=0)")],
        "must_fail": _IWAE_ALL,
    },
    {   # the sign trap again, in the weights
        "name": "losses_iwae_logqzx_sign_trap",
        "module": "losses",
        "replace": [(_LOG_W, "log_w = log_px_given_z - 0.5 * z.pow(2).sum(-1) - logqzx")],
        "must_fail": _IWAE_ALL,
    },
    {
        "name": "losses_iwae_prior_sign",
        "module": "losses",
        "replace": [(_LOG_W, "log_w = log_px_given_z + 0.5 * z.pow(2).sum(-1) + logqzx")],
        "must_fail": _IWAE_ALL,
    },
    {   # logsumexp over the batch instead of over the samples
        "name": "losses_iwae_logsumexp_over_batch",
        "module": "losses",
        "replace": [(_LSE, "return torch.logsumexp(log_w, dim=1) - math.log(k)")],
        "must_fail": _IWAE_ALL,
    },
    # ---- correct: full marks ----------------------------------------------------------------
    {   # everything computed in float32, whatever the inputs' dtype
        "name": "losses_ok_float32",
        "module": "losses",
        "replace": [
            (_B, "x1, x2, mu, logvar = x1.float(), x2.float(), mu.float(), logvar.float()\n    B = x1.shape[0]"),
            (_LOG_Q, "z, mu, logvar = z.float(), mu.float(), logvar.float()\n"
                     "    log_q = -0.5 * (logvar + (z - mu).pow(2) / logvar.exp()).sum(1)"),
            (_DISC_REC, "reconstruction = cross_entropy(x1.float(), x2.float())\n    z, logqzx = z.float(), logqzx.float()\n"
                        "    minus_log_p"),
            (_LOG_W, "log_w = log_px_given_z.float() - 0.5 * z.float().pow(2).sum(-1) + logqzx.float()"),
        ],
        "must_fail": [],
    },
    {   # another reduction order: sums over the batch divided by its size
        "name": "losses_ok_sum_then_divide",
        "module": "losses",
        "replace": [(_GAUSS_RETURN, "return nll.sum() / B, kl.sum() / B"),
                    (_MC_RETURN, "return reconstruction, (log_q.sum() - log_p.sum()) / z.shape[0]"),
                    (_DISC_RETURN, "return reconstruction, (minus_log_p.sum() - logqzx.sum()) / z.shape[0]")],
        "must_fail": [],
    },
    {   # the Gaussian constant 0.5 log(2 pi sigma^2) per pixel left out (it has no gradient)
        "name": "losses_ok_dropped_gaussian_constant",
        "module": "losses",
        "replace": [(_NLL, "nll = squared.sum(1) / (2 * sigma**2)")],
        "must_fail": [],
    },
    {   # torch.distributions for both KLs (the constants of log q and log p cancel)
        "name": "losses_ok_torch_distributions",
        "module": "losses",
        "replace": [
            (_KL, "q = torch.distributions.Normal(mu, (0.5 * logvar).exp())\n"
                  "    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)"),
            (_LOG_Q, "log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)"),
            (_LOG_P, "log_p = torch.distributions.Normal(torch.zeros_like(z), 1.0).log_prob(z).sum(1)"),
        ],
        "must_fail": [],
    },
    {   # the textbook form of the KL, -0.5 sum(1 + logvar - mu^2 - exp(logvar))
        "name": "losses_ok_kl_textbook_form",
        "module": "losses",
        "replace": [(_KL, "kl = -0.5 * torch.sum(1 + logvar - mu**2 - torch.exp(logvar), dim=1)")],
        "must_fail": [],
    },
    {   # the Bernoulli reconstruction written out, stably, with softplus
        "name": "losses_ok_discrete_softplus",
        "module": "losses",
        "replace": [(_DISC_REC, "bce = F.softplus(x1) - x2 * x1  # -log p(x2 | logits x1) per pixel\n"
                                "    reconstruction = bce.reshape(x1.shape[0], -1).sum(1).mean()\n    minus_log_p")],
        "must_fail": [],
    },
    {   # log-sum-exp by hand, with the max subtracted
        "name": "losses_ok_iwae_manual_max_shift",
        "module": "losses",
        "replace": [(_LSE, "top = log_w.max(0).values  # (B,)\n"
                           "    return top + torch.log(torch.exp(log_w - top).mean(0))")],
        "must_fail": [],
    },
]
