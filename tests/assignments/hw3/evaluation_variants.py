"""Variants of the hw3 evaluation solution key, and the tests each must fail, to check that the tests discriminate.

Each variant applies text replacements to assignments/hw3/evaluation.py (the solution
source: its SOLUTION markers are comments, so it runs as it is) and is graded with the
public and hidden tests. A wrong variant must fail exactly the tests in ``must_fail``;
a correct one (``must_fail == []``) must get full marks. Every ``old`` text occurs
exactly once in the source. The list is data only; the harness lives with the tests.

Conventions the tests hold students to (documented in evaluation.py): natural logarithms,
covariances divided by N - 1, the population standard deviation over splits, consecutive
split blocks, scores returned as Python floats. Not catalogued as correct: a coupled
Newton-Schulz square root, which is fine for full-rank matrices but overflows (NaN) on the
singular covariances the docstring requires (measured: 100 iterations, every singular case).
"""

# Lines of the solution that several variants edit.
_P = "p = probs.to(F64)  # (N, K) p(y|x)"
_MARGINAL = "marginal = p.mean(dim=0, keepdim=True)  # (1, K) p(y)"
_KL = "kl = (torch.xlogy(p, p) - torch.xlogy(p, marginal)).sum(dim=1)  # (N,) KL(p(y|x) || p(y))"
_IS = "return math.exp(kl.mean().item())"
_SCORES = "scores = torch.tensor([inception_score(block) for block in probs.split(size)], dtype=F64)  # (splits,)"
_SPLITS = "return scores.mean().item(), scores.std(correction=0).item()"
_EIGH = "w, V = torch.linalg.eigh(matrix.to(F64))  # w (d,) ascending, V (d, d) eigenvectors in columns"
_ROOT = "return (V * w.clamp(min=0).sqrt()) @ V.mT  # V diag(sqrt w) V^T: scaling column j by sqrt(w_j)"
_CAST = "mu1, sigma1, mu2, sigma2 = mu1.to(F64), sigma1.to(F64), mu2.to(F64), sigma2.to(F64)"
_ROOT1 = "root1 = sqrtm_psd(sigma1)  # (d, d) Sigma1^(1/2)"
_PRODUCT = "product = root1 @ sigma2 @ root1  # (d, d) symmetric PSD, the eigenvalues of Sigma1 Sigma2"
_TRACE = "trace_sqrt = torch.linalg.eigvalsh(product).clamp(min=0).sqrt().sum()  # Tr (Sigma1 Sigma2)^(1/2)"
_FID = "return (diff @ diff + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt).item()"
_X = "x = features.to(F64)  # (N, d)"
_SIGMA = "sigma = centred.mT @ centred / (x.shape[0] - 1)  # (d, d)"
_SHAPE = "cols = min(nrow, B)\n    rows = math.ceil(B / cols)"
_CANVAS = "grid = images.new_full((C, rows * (H + padding) + padding, cols * (W + padding) + padding), pad_value)"
_PICTURES = "pictures = ((images + 1) / 2).clamp(0, 1)  # (B, C, H, W) in [0, 1]"
_CELL = "r, c = divmod(k, cols)"
_CORNER = "top, left = padding + r * (H + padding), padding + c * (W + padding)"
_LOOP = """    for k in range(B):
        r, c = divmod(k, cols)
        top, left = padding + r * (H + padding), padding + c * (W + padding)
        grid[:, top : top + H, left : left + W] = pictures[k]
    return grid"""

# Tests that share a fate.
_IS_PUBLIC = ["test_inception_score_extremes", "test_inception_score_two_classes", "test_inception_score_splits"]
_IS_HIDDEN = ["test_is_extremes", "test_is_exact", "test_is_zero_probabilities", "test_is_float32",
              "test_is_splits_exact"]
_FID_OFF_DIAGONAL = ["test_fid_exact_full_rank", "test_fid_exact_rank_deficient", "test_fid_symmetric",
                     "test_fid_float32", "test_fid_from_features_exact"]  # fail when cross terms are wrong
_GRID = ["test_make_grid", "test_make_grid_exact"]

VARIANTS = [
    # ---- wrong: inception_score ---------------------------------------------------------
    {   # p(y) taken as uniform instead of the samples' mean prediction: identical rows score > 1
        "name": "is_uniform_marginal",
        "module": "evaluation",
        "replace": [(_MARGINAL, "marginal = torch.full_like(p[:1], 1.0 / p.shape[1])")],
        "must_fail": _IS_PUBLIC + _IS_HIDDEN,
    },
    {   # KL in bits, then exp: balanced one-hot over 10 classes scores e^(log2 10) = 27.9
        "name": "is_log_base_2",
        "module": "evaluation",
        "replace": [(_KL, "kl = ((torch.xlogy(p, p) - torch.xlogy(p, marginal)) / math.log(2)).sum(dim=1)")],
        "must_fail": _IS_PUBLIC + _IS_HIDDEN,
    },
    {   # the mean KL itself: identical predictions give 0, not 1
        "name": "is_without_exp",
        "module": "evaluation",
        "replace": [(_IS, "return kl.mean().item()")],
        "must_fail": _IS_PUBLIC + _IS_HIDDEN,
    },
    {   # KL(p(y) || p(y|x)): infinite as soon as a sample gives a class probability 0
        "name": "is_kl_reversed",
        "module": "evaluation",
        "replace": [(_KL, "kl = (torch.xlogy(marginal, marginal) - torch.xlogy(marginal, p)).sum(dim=1)")],
        "must_fail": _IS_PUBLIC + _IS_HIDDEN,
    },
    {   # p * log p: 0 * -inf = NaN for confident predictions; fine on strictly positive softmax outputs
        "name": "is_naive_log_of_zero",
        "module": "evaluation",
        "replace": [(_KL, "kl = (p * (torch.log(p) - torch.log(marginal))).sum(dim=1)")],
        "must_fail": _IS_PUBLIC + ["test_is_extremes", "test_is_zero_probabilities"],
    },
    {   # the mean of exp(KL) instead of exp of the mean KL (Jensen: larger); exact on one-hot data
        "name": "is_mean_of_exp",
        "module": "evaluation",
        "replace": [(_IS, "return kl.exp().mean().item()")],
        "must_fail": ["test_inception_score_two_classes", "test_is_exact", "test_is_zero_probabilities",
                      "test_is_float32", "test_is_splits_exact"],
    },
    {   # torch.std's default: divides by splits - 1 (the original code uses numpy.std, by splits)
        "name": "is_splits_sample_std",
        "module": "evaluation",
        "replace": [(_SPLITS, "return scores.mean().item(), scores.std().item()")],
        "must_fail": ["test_inception_score_splits", "test_is_splits_exact"],
    },
    {   # one score over all rows, repeated: the splits are ignored
        "name": "is_splits_ignored",
        "module": "evaluation",
        "replace": [(_SCORES, "scores = torch.full((splits,), inception_score(probs), dtype=F64)")],
        "must_fail": ["test_inception_score_splits", "test_is_splits_exact"],
    },
    {   # every splits-th row in a block instead of consecutive rows
        "name": "is_splits_interleaved",
        "module": "evaluation",
        "replace": [(_SCORES, "scores = torch.tensor([inception_score(probs[i::splits]) for i in range(splits)],"
                              " dtype=F64)")],
        "must_fail": ["test_inception_score_splits", "test_is_splits_exact"],
    },  # fmt: skip
    # ---- wrong: sqrtm_psd ---------------------------------------------------------------
    {   # no clamp: round-off makes zero eigenvalues -1e-16, whose square root is NaN
        "name": "sqrtm_no_clamp",
        "module": "evaluation",
        "replace": [(_ROOT, "return (V * w.sqrt()) @ V.mT")],
        "must_fail": ["test_sqrtm_psd_squares_back", "test_fid_identical", "test_fid_exact_rank_deficient",
                      "test_fid_symmetric"],
    },
    {   # a Cholesky factor L (L L^T = A) is not the square root (L L != A); equal for diagonal A
        "name": "sqrtm_cholesky_factor",
        "module": "evaluation",
        "replace": [(_ROOT, "return torch.linalg.cholesky(matrix.to(F64))")],
        "must_fail": ["test_sqrtm_psd", "test_frechet_distance_by_hand", "test_fid_from_features",
                      "test_sqrtm_psd_squares_back", "test_fid_identical", "test_fid_shift"] + _FID_OFF_DIAGONAL,
    },  # fmt: skip
    # ---- wrong: frechet_distance ----------------------------------------------------------
    {   # only the means: blind to any difference in covariance
        "name": "fid_without_trace_term",
        "module": "evaluation",
        "replace": [(_FID, "return (diff @ diff).item()")],
        "must_fail": ["test_frechet_distance_by_hand", "test_fid_identical"] + _FID_OFF_DIAGONAL,
    },
    {   # Tr sqrt(Sigma1 * Sigma2) elementwise: right for diagonal or proportional covariances only
        "name": "fid_elementwise_sqrt",
        "module": "evaluation",
        "replace": [(_TRACE, "trace_sqrt = torch.sqrt(sigma1 * sigma2).trace()")],
        "must_fail": ["test_frechet_distance_by_hand"] + _FID_OFF_DIAGONAL,
    },
    {   # eigh of the non-symmetric Sigma1 Sigma2 reads one triangle only: right when they commute
        "name": "fid_eigh_of_nonsymmetric_product",
        "module": "evaluation",
        "replace": [(_TRACE, "trace_sqrt = sqrtm_psd(sigma1 @ sigma2).trace()")],
        "must_fail": _FID_OFF_DIAGONAL,
    },
    {   # Tr(Sigma1^(1/2) Sigma2^(1/2)) instead of Tr((Sigma1 Sigma2)^(1/2)): equal only when they commute
        "name": "fid_product_of_roots",
        "module": "evaluation",
        "replace": [(_TRACE, "trace_sqrt = (root1 @ sqrtm_psd(sigma2)).trace()")],
        "must_fail": _FID_OFF_DIAGONAL,
    },
    {   # Tr(Sigma1 Sigma2) without the square root
        "name": "fid_trace_without_sqrt",
        "module": "evaluation",
        "replace": [(_TRACE, "trace_sqrt = torch.linalg.eigvalsh(product).clamp(min=0).sum()")],
        "must_fail": ["test_frechet_distance_shift", "test_frechet_distance_by_hand", "test_fid_from_features",
                      "test_fid_identical", "test_fid_shift"] + _FID_OFF_DIAGONAL,
    },  # fmt: skip
    {   # ||mu1 - mu2|| instead of its square: the 0.5-shift in 16 dimensions gives 2, not 4
        "name": "fid_norm_not_squared",
        "module": "evaluation",
        "replace": [(_FID, "return (diff.norm() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt).item()")],
        "must_fail": ["test_frechet_distance_shift", "test_frechet_distance_by_hand", "test_fid_shift"]
                     + _FID_OFF_DIAGONAL,
    },  # fmt: skip
    # ---- wrong: feature_statistics --------------------------------------------------------
    {   # the biased covariance (divide by N): not the documented convention (numpy.cov, reference FID)
        "name": "stats_biased_covariance",
        "module": "evaluation",
        "replace": [(_SIGMA, "sigma = centred.mT @ centred / x.shape[0]")],
        "must_fail": ["test_feature_statistics", "test_feature_statistics_exact", "test_fid_from_features_exact"],
    },
    {   # second moment instead of covariance: the mean is not subtracted
        "name": "stats_not_centred",
        "module": "evaluation",
        "replace": [(_SIGMA, "sigma = x.mT @ x / (x.shape[0] - 1)")],
        "must_fail": ["test_feature_statistics", "test_fid_from_features", "test_feature_statistics_exact",
                      "test_fid_from_features_exact"],
    },
    # ---- wrong: make_grid -----------------------------------------------------------------
    {   # nrow read as the number of rows: the same picture for 3 images with nrow=2, not in general
        "name": "grid_rows_and_columns_swapped",
        "module": "evaluation",
        "replace": [(_SHAPE, "rows = min(nrow, B)\n    cols = math.ceil(B / rows)")],
        "must_fail": _GRID,
    },
    {   # filled column by column
        "name": "grid_column_major",
        "module": "evaluation",
        "replace": [(_CELL, "c, r = divmod(k, rows)")],
        "must_fail": _GRID,
    },
    {   # pixels left in [-1, 1] (only clamped)
        "name": "grid_not_rescaled",
        "module": "evaluation",
        "replace": [(_PICTURES, "pictures = images.clamp(0, 1)")],
        "must_fail": _GRID,
    },
    {   # values outside [-1, 1] leave [0, 1]
        "name": "grid_not_clamped",
        "module": "evaluation",
        "replace": [(_PICTURES, "pictures = (images + 1) / 2")],
        "must_fail": _GRID,
    },
    {   # each image padded on every side by itself: 2 * padding between neighbours
        "name": "grid_double_padding",
        "module": "evaluation",
        "replace": [
            (_CANVAS, "grid = images.new_full((C, rows * (H + 2 * padding), cols * (W + 2 * padding)), pad_value)"),
            (_CORNER, "top, left = padding + r * (H + 2 * padding), padding + c * (W + 2 * padding)"),
        ],
        "must_fail": _GRID,
    },
    {   # a float32 canvas whatever the images' dtype
        "name": "grid_float32_canvas",
        "module": "evaluation",
        "replace": [(_CANVAS, "grid = torch.full((C, rows * (H + padding) + padding,"
                              " cols * (W + padding) + padding), pad_value)")],
        "must_fail": _GRID,
    },  # fmt: skip
    # ---- correct: full marks --------------------------------------------------------------
    {   # no float64 anywhere: float32 inputs are computed in float32 (within the float32 tests' tolerance)
        "name": "ok_float32_inputs_stay_float32",
        "module": "evaluation",
        "replace": [(_P, "p = probs"), (_EIGH, "w, V = torch.linalg.eigh(matrix)"),
                    (_CAST, "pass"), (_X, "x = features")],
        "must_fail": [],
    },
    {   # E_x KL = H(p(y)) - E_x H(p(y|x)): the entropy form, another order of sums
        "name": "ok_is_entropy_form",
        "module": "evaluation",
        "replace": [
            (_KL, "conditional = -torch.xlogy(p, p).sum(dim=1)  # (N,) H(p(y|x))"),
            (_IS, "return math.exp((-torch.xlogy(marginal, marginal).sum() - conditional.mean()).item())"),
        ],
        "must_fail": [],
    },
    {   # zeros masked with torch.where instead of xlogy; the mean as a sum over N
        "name": "ok_is_masked_log_sum_over_n",
        "module": "evaluation",
        "replace": [
            (_KL, "kl = torch.where(p > 0, p * (p.log() - marginal.log()), torch.zeros_like(p)).sum(dim=1)"),
            (_IS, "return math.exp(kl.sum().item() / p.shape[0])"),
        ],
        "must_fail": [],
    },
    {   # blocks by slicing, statistics with plain Python
        "name": "ok_splits_python_statistics",
        "module": "evaluation",
        "replace": [
            (_SCORES, "scores = [inception_score(probs[i * size : (i + 1) * size]) for i in range(splits)]"),
            (_SPLITS, "mean = sum(scores) / splits\n"
                      "    return mean, math.sqrt(sum((s - mean) ** 2 for s in scores) / splits)"),
        ],
        "must_fail": [],
    },  # fmt: skip
    {   # the square root from an SVD (A = V diag(s) V^T for symmetric PSD A)
        "name": "ok_sqrtm_svd",
        "module": "evaluation",
        "replace": [(_EIGH, "_, s, Vh = torch.linalg.svd(matrix.to(F64))"), (_ROOT, "return (Vh.mT * s.sqrt()) @ Vh")],
        "must_fail": [],
    },
    {   # the eigenvalues of the non-symmetric Sigma1 Sigma2 directly (complex eigvals, real part)
        "name": "ok_fid_eigvals_of_product",
        "module": "evaluation",
        "replace": [(_TRACE, "trace_sqrt = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0).sqrt().sum()")],
        "must_fail": [],
    },
    {   # Sigma2^(1/2) Sigma1 Sigma2^(1/2) has the same eigenvalues
        "name": "ok_fid_root_of_sigma2",
        "module": "evaluation",
        "replace": [(_ROOT1, "root1 = sqrtm_psd(sigma2)"), (_PRODUCT, "product = root1 @ sigma1 @ root1")],
        "must_fail": [],
    },
    {   # the trace of the matrix square root itself, and squared distance by a sum
        "name": "ok_fid_trace_of_sqrtm",
        "module": "evaluation",
        "replace": [
            (_TRACE, "trace_sqrt = sqrtm_psd(product).trace()"),
            (_FID, "return (((mu1 - mu2) ** 2).sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt).item()"),
        ],
        "must_fail": [],
    },
    {   # torch.cov (unbiased by default)
        "name": "ok_stats_torch_cov",
        "module": "evaluation",
        "replace": [(_SIGMA, "sigma = torch.cov(x.mT)")],
        "must_fail": [],
    },
    {   # (X^T X - N mu mu^T) / (N - 1): another order of operations
        "name": "ok_stats_second_moment_minus_mean",
        "module": "evaluation",
        "replace": [(_SIGMA, "sigma = (x.mT @ x - x.shape[0] * torch.outer(mu, mu)) / (x.shape[0] - 1)")],
        "must_fail": [],
    },
    {   # no Python loop: pad every cell above and left, reshape the cells into the grid, pad the far edges
        "name": "ok_grid_reshape",
        "module": "evaluation",
        "replace": [(_LOOP, """    cells = images.new_full((rows * cols, C, H + padding, W + padding), pad_value)
    cells[:B, :, padding:, padding:] = pictures
    grid = cells.view(rows, cols, C, H + padding, W + padding).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(C, rows * (H + padding), cols * (W + padding))
    return torch.nn.functional.pad(grid, (0, padding, 0, padding), value=pad_value)""")],
        "must_fail": [],
    },
]
