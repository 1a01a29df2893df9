"""Variants of the hw2 flows solution key (flows.py), and the tests each must fail.

Same format as hw1's: each variant applies text replacements to assignments/hw2/flows.py (the
solution source: its SOLUTION markers are comments, so it runs as it is) and is graded with
test_flows.py and test_flows_hidden.py, the other hand-in files being the key's. A wrong
variant must fail exactly the tests in ``must_fail``; a correct one (``must_fail == []``) must
get full marks. Every ``old`` text occurs exactly once in the source. Names are unique across
hw2 and start with ``flows_``. The list is data only; the harness lives with the tests.

Calibration of test_bits_per_dim_density (RealNVP(1, hidden=4, 2 + 2 couplings), weights
N(0, 0.3^2), alpha = 0, all 16 binary 2x2 images, 4096 scrambled Sobol points for u): the key
sums to 1.0007 (1.0008 with plain Monte Carlo at 65536 points: 1.011); tolerance 0.02. A model
without the dequantisation term sums to 16, one without the logit's log-det far from 1.
"""

# Lines of the solution that several variants edit.
_DEQ = "return (x.to(u.dtype) + u) / n_levels"
_P = "p = alpha + (1 - 2 * alpha) * y  # in [alpha, 1 - alpha)"
_V = "v = torch.log(p) - torch.log1p(-p)"
_LOGIT_LD = "log_det = (math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)  # (B,)"
_F_NET = "raw_s, t = self.net(b * x).chunk(2, dim=1)  # computed from the kept half only"
_F_S = "s = torch.tanh(raw_s) * (1 - b)  # log-scales, 0 on the kept half"
_F_T = "t = t * (1 - b)\n        return x * torch.exp(s) + t"
_F_RETURN = "return x * torch.exp(s) + t, s.flatten(1).sum(1)  # kept half: x * 1 + 0 = x"
_I_NET = "raw_s, t = self.net(b * y).chunk(2, dim=1)  # b * y == b * x: the same s and t as forward"
_I_S = "s = torch.tanh(raw_s) * (1 - b)\n        t = t * (1 - b)\n        return (y - t)"
_I_RETURN = "return (y - t) * torch.exp(-s)"
_INV_CHANNEL = "for layer in reversed(self.channel):"
_INV_CHECKER = "for layer in reversed(self.checkerboard):"
_BASE = "log_base = (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)  # (B,)"
_BPD_LOGPX = "log_px = flow.log_prob(v) + ld_logit - D * math.log(n_levels)  # (B,) nats"
_BPD_RETURN = "return -log_px / (D * math.log(2))"

# Tests that each part's bugs show up in.
_COUPLING_EXACT = ["test_coupling_exact", "test_flow_exact", "test_bits_per_dim_exact"]
_LOG_DET = ["test_coupling_with_constant_net", "test_coupling_exact", "test_coupling_log_det_jacobian",
            "test_flow_exact", "test_flow_log_det_jacobian", "test_bits_per_dim_exact", "test_bits_per_dim_density"]
_NOT_INVERTIBLE = ["test_coupling_inverse", "test_coupling_exact", "test_coupling_inverse_round_trip",
                   "test_coupling_log_det_jacobian", "test_flow_exact", "test_flow_log_det_jacobian",
                   "test_bits_per_dim_exact", "test_bits_per_dim_density"]
_BITS = ["test_bits_per_dim_identity_flow", "test_bits_per_dim_exact", "test_bits_per_dim_density"]
_LOGIT = ["test_logit_transform_by_hand", "test_logit_transform_exact", *_BITS]

VARIANTS = [
    # ---- wrong: the coupling layer ----------------------------------------------------------
    {   # log-det left out: exact for a volume-preserving layer only
        "name": "flows_log_det_missing",
        "module": "flows",
        "replace": [(_F_RETURN, "return x * torch.exp(s) + t, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)")],
        "must_fail": _LOG_DET,
    },
    {   # the inverse's log-det (-sum s) returned by forward
        "name": "flows_log_det_wrong_sign",
        "module": "flows",
        "replace": [(_F_RETURN, "return x * torch.exp(s) + t, -s.flatten(1).sum(1)")],
        "must_fail": _LOG_DET,
    },
    {   # s and t from the whole input: they depend on the transformed half, the inverse cannot
        # recover them, and the Jacobian is no longer triangular
        "name": "flows_mask_not_applied_in_net",
        "module": "flows",
        "replace": [(_F_NET, "raw_s, t = self.net(x).chunk(2, dim=1)"), (_I_NET, "raw_s, t = self.net(y).chunk(2, dim=1)")],
        "must_fail": [t for t in _NOT_INVERTIBLE if t != "test_bits_per_dim_density"],  # sums to 1 within 0.02 here
    },
    {   # the shift moves the kept half too: the inverse reads a changed b * y
        "name": "flows_shift_not_masked",
        "module": "flows",
        "replace": [(_F_T, "return x * torch.exp(s) + t")],
        "must_fail": [*_NOT_INVERTIBLE, "test_coupling_with_constant_net", "test_coupling_masked_half"],
    },
    {   # log-scale not bounded by tanh: a valid coupling, but not the documented one
        "name": "flows_log_scale_without_tanh",
        "module": "flows",
        "replace": [(_F_S, "s = raw_s * (1 - b)"), (_I_S, "s = raw_s * (1 - b)\n        t = t * (1 - b)\n        return (y - t)")],
        "must_fail": ["test_coupling_with_constant_net", *_COUPLING_EXACT],
    },
    {   # the network's outputs read the other way round: shift first, then log-scale
        "name": "flows_scale_and_shift_swapped",
        "module": "flows",
        "replace": [(_F_NET, "t, raw_s = self.net(b * x).chunk(2, dim=1)"), (_I_NET, "t, raw_s = self.net(b * y).chunk(2, dim=1)")],
        "must_fail": ["test_coupling_with_constant_net", *_COUPLING_EXACT],
    },
    {   # the inverse divides where it should multiply by exp(-s)
        "name": "flows_inverse_multiplies_by_scale",
        "module": "flows",
        "replace": [(_I_RETURN, "return (y - t) * torch.exp(s)")],
        "must_fail": ["test_coupling_with_constant_net", "test_coupling_inverse", "test_coupling_exact",
                      "test_coupling_inverse_round_trip", "test_flow_exact", "test_flow_log_det_jacobian"],
    },
    # ---- wrong: the flow --------------------------------------------------------------------
    {   # the layers undone in forward order: not the inverse of their composition
        "name": "flows_inverse_layers_not_reversed",
        "module": "flows",
        "replace": [(_INV_CHANNEL, "for layer in self.channel:"), (_INV_CHECKER, "for layer in self.checkerboard:")],
        "must_fail": ["test_flow_exact", "test_flow_log_det_jacobian"],
    },
    {   # the base density without its normalising constant: not a density any more
        "name": "flows_base_density_without_constant",
        "module": "flows",
        "replace": [(_BASE, "log_base = (-0.5 * z.pow(2)).flatten(1).sum(1)")],
        "must_fail": ["test_flow_exact", *_BITS],
    },
    # ---- wrong: dequantisation, logit, bits/dim ---------------------------------------------
    {   # nats per dimension reported as bits
        "name": "flows_bits_with_ln_instead_of_log2",
        "module": "flows",
        "replace": [(_BPD_RETURN, "return -log_px / D")],
        "must_fail": _BITS,
    },
    {   # -D log(n_levels) left out: a density on [0, 1)^D, not a probability of the discrete data
        "name": "flows_bits_without_dequantisation_term",
        "module": "flows",
        "replace": [(_BPD_LOGPX, "log_px = flow.log_prob(v) + ld_logit")],
        "must_fail": _BITS,
    },
    {   # the logit's log-det left out of the likelihood
        "name": "flows_bits_without_logit_log_det",
        "module": "flows",
        "replace": [(_BPD_LOGPX, "log_px = flow.log_prob(v) - D * math.log(n_levels)")],
        "must_fail": _BITS,
    },
    {   # the squashing's factor (1 - 2 alpha) left out of the logit's log-det
        "name": "flows_logit_log_det_missing_alpha_factor",
        "module": "flows",
        "replace": [(_LOGIT_LD, "log_det = (-torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)")],
        "must_fail": ["test_logit_transform_by_hand", "test_logit_transform_exact", "test_bits_per_dim_identity_flow",
                      "test_bits_per_dim_exact"],
    },
    {   # no squashing at all: logit(0) = -inf
        "name": "flows_logit_without_squashing",
        "module": "flows",
        "replace": [(_P, "p = y")],
        "must_fail": ["test_logit_transform_by_hand", "test_logit_transform_exact", "test_bits_per_dim_identity_flow",
                      "test_bits_per_dim_exact"],
    },
    {   # RealNVP's one-sided alpha + (1 - alpha) y, consistently: a density, but not the documented map
        "name": "flows_logit_one_sided_squashing",
        "module": "flows",
        "replace": [(_P, "p = alpha + (1 - alpha) * y"),
                    (_LOGIT_LD, "log_det = (math.log(1 - alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)")],
        "must_fail": ["test_logit_transform_by_hand", "test_logit_transform_exact", "test_bits_per_dim_identity_flow",
                      "test_bits_per_dim_exact"],
    },
    {   # x + u without the division: y leaves [0, 1) and the logit gives NaN
        "name": "flows_dequantize_without_division",
        "module": "flows",
        "replace": [(_DEQ, "return x.to(u.dtype) + u")],
        "must_fail": ["test_dequantize", *_BITS],
    },
    # ---- correct: full marks ----------------------------------------------------------------
    {   # the coupling written as a blend of the two halves, log-det summed over named dims
        "name": "flows_ok_explicit_blend",
        "module": "flows",
        "replace": [(_F_RETURN, "return b * x + (1 - b) * (x * torch.exp(s) + t), s.sum(dim=(1, 2, 3))"),
                    (_I_RETURN, "return b * y + (1 - b) * ((y - t) * torch.exp(-s))")],
        "must_fail": [],
    },
    {   # the inverse divides by exp(s)
        "name": "flows_ok_inverse_divides",
        "module": "flows",
        "replace": [(_I_RETURN, "return (y - t) / torch.exp(s)")],
        "must_fail": [],
    },
    {   # torch.logit, and log p + log(1 - p) = -softplus(v) - softplus(-v)
        "name": "flows_ok_logit_softplus",
        "module": "flows",
        "replace": [(_V, "v = torch.logit(p)"),
                    (_LOGIT_LD, "log_det = (math.log(1 - 2 * alpha) + F.softplus(v) + F.softplus(-v)).sum(dim=(1, 2, 3))")],
        "must_fail": [],
    },
    {   # base density from torch.distributions, bits via log2 directly
        "name": "flows_ok_distributions_and_log2",
        "module": "flows",
        "replace": [(_BASE, "log_base = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(dim=(1, 2, 3))"),
                    (_BPD_RETURN, "return -log_px / math.log(2) / D")],
        "must_fail": [],
    },
    {   # dequantisation written as two divisions, the dequantisation term as log2 bits
        "name": "flows_ok_dequantize_in_bits",
        "module": "flows",
        "replace": [(_DEQ, "return x.to(u.dtype) / n_levels + u / n_levels"),
                    (_BPD_LOGPX, "log_px = flow.log_prob(v) + ld_logit"),
                    (_BPD_RETURN, "return -log_px / (D * math.log(2)) + math.log2(n_levels)")],
        "must_fail": [],
    },
]
