"""Variants of the hw2 models solution key (models.py), and the tests each must fail.

Each variant applies text replacements to assignments/hw2/models.py (the solution source:
its SOLUTION markers are comments, so it runs as it is) and is graded with the public and
hidden models tests, the other hand-in files being the key's. A wrong variant must fail
exactly the tests in ``must_fail``; a correct one (``must_fail == []``) must get full marks.
Every ``old`` text occurs exactly once in the source. Names are unique across hw2 and start
with ``models_``. The list is data only; the harness lives with the tests.

Calibration of test_pixelcnn_training (PixelCNN(8, 1), every parameter redrawn from
N(0, 0.01^2) by the probe reinitialize, then the probe fit_bernoulli's Adam loop: 200 steps of
16 stripe images at lr 0.02, then the NLL of 256 held-out stripe images; entropy 28 ln 2 =
19.408 nats; pass: 19.16 < NLL < 24.41). Measured with 1 CPU thread on a shared two-core machine
(about 3 s of CPU a run, 2-5 s wall under load), over re-initialisation seeds 0-3 (seed 0 is the
graded one): the key 19.78 19.77 19.65 21.27; post-activation blocks 19.86 19.86 20.04 20.69;
three bias-free convolutions per block 21.66 23.36 21.57 21.67; type A in the blocks 21.32
22.11 20.21 22.32 (caught by the causal test instead); masked blocks without a skip connection
20.34 19.80 19.65 20.14 (caught by the residual and exact tests); a type-B first layer (a leak
through the centre pixel) 0.14 0.04 0.03 0.04.

Settings measured on the way (same seeds): batches of 32 for 200 steps, twice the cost, gave
about the same numbers (key 19.76-19.89, three convolutions 21.43-23.26, leak 0.02-0.12); 150
steps of 16 at lr 0.03 put post-activation blocks at 23.08 at seed 0, too near the bound;
PixelCNN(4, 1), 100 steps of 32 at lr 0.05 (1 s) was not robust: the key 19.79-20.87 but 32.6
at one seed (its four ReLU features dead from the start), post-activation blocks 108.8 there,
masked blocks without a skip connection 546. The GRADING_SCIENCE setting (capacity 16, depth 2,
lr 0.01, 300 steps of 32) gave the key 19.58-20.49 and the leak 0.075, at 9-10 s a run here.
Models either come near the entropy or stay far from it (one that cannot read the pixels to
its left stays near 784 ln 2 = 543), so the 5-nat margin costs no power; the slower correct
layouts above are why it is not 2.
"""

# Lines of the solution that several variants edit.
_BLOCK_CONVS = ("        self.conv1 = nn.Conv2d(filters, filters, 3, padding=1)\n"
                "        self.conv2 = nn.Conv2d(filters, filters, 3, padding=1)\n")
_BLOCK_FORWARD = ("        h = self.conv1(F.relu(x))  # (B, filters, H, W)\n"
                  "        h = self.conv2(F.relu(h))\n"
                  "        return x + h  # the skip connection: with F's weights at 0 the block is the identity\n")
_MASKED_CONVS = ('        self.conv1 = MaskedConv2d("B", filters, filters, 3, padding=1)\n'
                 '        self.conv2 = MaskedConv2d("B", filters, filters, 3, padding=1)\n')
_MASKED_FORWARD = ("        h = self.conv1(F.relu(x))  # (B, filters, H, W), causal in raster order\n"
                   "        h = self.conv2(F.relu(h))  # still causal: type B after type B\n"
                   "        return x + h  # x at (i, j) is allowed at (i, j): the model's first layer was type A\n")
_EMBED = 'self.embed = MaskedConv2d("A", 1, capacity, 9, padding=4, bias=False)'
_MASK_FORWARD = "return self._conv_forward(x, self.weight * self.mask, self.bias)"
_MASK_INIT = "mask = torch.ones_like(self.weight)  # (out, in, kh, kw)"
_FLOW_MS = "m, s = flow(z, h)  # (B, 1, 7, 7) each; position k sees z before k only"
_FLOW_GATE = "gate = torch.sigmoid(s)"
_FLOW_Z = "z = gate * z + (1 - gate) * m  # the gated update: dz'/dz is diagonal = gate"
_FLOW_LOGDET = "logqzx = logqzx + F.logsigmoid(s).flatten(1).sum(1)  # + log|det dz'/dz|, stable for any s"
_LOGQZX = "logqzx = 0.5 * (logvar + (z - mu) ** 2 / logvar.exp()).flatten(1).sum(1)  # (B,), minus log q(z | x)"

_FLOWS = ["test_encoder_one_flow_hand_worked", "test_encoder_flows_exact", "test_encoder_flows_jacobian"]
_ZEROED_CONVNET = ["test_encoder_exact", "test_decoders_exact"]  # given models around zeroed ConvnetBlocks
_ZEROED_MASKED = ["test_pixelcnn_exact", "test_pixelcnn_sample_exact", "test_decoders_exact"]  # ... MaskedConvnetBlocks
_LEAK = ["test_masked_convnet_block_causal", "test_pixelcnn_causal", "test_pixelcnn_training",
         "test_iaf_autoregressive", "test_encoder_flows_jacobian"]

VARIANTS = [
    # ---- wrong: the residual blocks ---------------------------------------------------------
    {   # type A in the blocks: still causal, but output (i, j) reads input (i, j) through the skip path only
        "name": "models_masked_block_type_a",
        "module": "models",
        "replace": [(_MASKED_CONVS, _MASKED_CONVS.replace('"B"', '"A"'))],
        "must_fail": ["test_masked_convnet_block_causal"],
    },
    {   # plain convolutions in the masked block: every later pixel leaks in
        "name": "models_masked_block_unmasked",
        "module": "models",
        "replace": [(_MASKED_CONVS, _MASKED_CONVS.replace('MaskedConv2d("B", ', "nn.Conv2d("))],
        "must_fail": _LEAK,
    },
    {   # the first convolution is built but never used
        "name": "models_block_discards_first_conv",
        "module": "models",
        "replace": [(_BLOCK_FORWARD, _BLOCK_FORWARD.replace("h = self.conv1(F.relu(x))", "h = x"))],
        "must_fail": ["test_convnet_block_properties"],
    },
    {   # the masked block's first convolution is never used either
        "name": "models_masked_block_discards_first_conv",
        "module": "models",
        "replace": [(_MASKED_FORWARD, _MASKED_FORWARD.replace("h = self.conv1(F.relu(x))", "h = x"))],
        "must_fail": ["test_masked_convnet_block_properties"],
    },
    {   # a plain stack of convolutions: no skip connection
        "name": "models_block_no_residual",
        "module": "models",
        "replace": [(_BLOCK_FORWARD, _BLOCK_FORWARD.replace("return x + h", "return h"))],
        "must_fail": ["test_block_zero_is_identity", "test_convnet_block_residual", *_ZEROED_CONVNET],
    },
    {   # the masked block without its skip connection
        "name": "models_masked_block_no_residual",
        "module": "models",
        "replace": [(_MASKED_FORWARD, _MASKED_FORWARD.replace("return x + h", "return h"))],
        "must_fail": ["test_block_zero_is_identity", "test_masked_convnet_block_residual", *_ZEROED_MASKED],
    },
    {   # a 1x1 convolution as the block's second layer
        "name": "models_block_1x1_conv",
        "module": "models",
        "replace": [(_BLOCK_CONVS, _BLOCK_CONVS.replace("self.conv2 = nn.Conv2d(filters, filters, 3, padding=1)",
                                                        "self.conv2 = nn.Conv2d(filters, filters, 1)"))],
        "must_fail": ["test_masks_and_block_shapes", "test_convnet_block_properties"],
    },
    {   # a 1x1 channel mix written as nn.Linear over the channels
        "name": "models_masked_block_linear_mix",
        "module": "models",
        "replace": [(_MASKED_CONVS, _MASKED_CONVS + "        self.mix = nn.Linear(filters, filters)\n"),
                    (_MASKED_FORWARD, _MASKED_FORWARD.replace(
                        "return x + h", "return x + self.mix(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)"))],
        "must_fail": ["test_masks_and_block_shapes", "test_masked_convnet_block_properties"],
    },
    {   # BatchNorm mixes the images of a batch (in training mode)
        "name": "models_block_batchnorm",
        "module": "models",
        "replace": [(_BLOCK_CONVS, _BLOCK_CONVS + "        self.norm = nn.BatchNorm2d(filters)\n"),
                    (_BLOCK_FORWARD, _BLOCK_FORWARD.replace("h = self.conv2(F.relu(h))",
                                                            "h = self.conv2(F.relu(self.norm(h)))"))],
        "must_fail": ["test_convnet_block_properties"],
    },
    # ---- wrong: masked convolution and PixelCNN (given code edited) ---------------------------
    {   # type B in PixelCNN's first layer: logit (i, j) sees pixel (i, j) itself
        "name": "models_pixelcnn_first_layer_type_b",
        "module": "models",
        "replace": [(_EMBED, _EMBED.replace('"A"', '"B"'))],
        "must_fail": ["test_pixelcnn_exact", "test_pixelcnn_causal", "test_pixelcnn_training",
                      "test_pixelcnn_sample_exact", "test_decoders_exact"],
    },
    {   # the mask is built but never applied
        "name": "models_masked_conv_mask_not_applied",
        "module": "models",
        "replace": [(_MASK_FORWARD, "return self._conv_forward(x, self.weight, self.bias)")],
        "must_fail": ["test_masks_and_block_shapes", *_LEAK, "test_pixelcnn_exact", "test_pixelcnn_sample_exact",
                      "test_encoder_flows_exact", "test_decoders_exact"],
    },
    # ---- wrong: the encoder and its flows ---------------------------------------------------
    {   # the sign trap in the given formula: log q instead of minus log q
        "name": "models_encoder_logqzx_sign",
        "module": "models",
        "replace": [(_LOGQZX, _LOGQZX.replace("logqzx = 0.5 *", "logqzx = -0.5 *"))],
        "must_fail": ["test_encoder_gaussian_hand_worked", "test_encoder_exact", *_FLOWS],
    },
    {   # the flows move z but logqzx forgets their log-determinant
        "name": "models_iaf_logdet_missing",
        "module": "models",
        "replace": [(_FLOW_LOGDET, "pass")],
        "must_fail": _FLOWS,
    },
    {   # log q(z') = log q(z) - log|det|, but logqzx is MINUS log q: subtracting is the sign trap
        "name": "models_iaf_logdet_wrong_sign",
        "module": "models",
        "replace": [(_FLOW_LOGDET, "logqzx = logqzx - F.logsigmoid(s).flatten(1).sum(1)")],
        "must_fail": _FLOWS,
    },
    {   # flows built but not applied
        "name": "models_iaf_flows_not_applied",
        "module": "models",
        "replace": [(_FLOW_MS, "pass"), (_FLOW_GATE, "pass"), (_FLOW_Z, "pass"), (_FLOW_LOGDET, "pass")],
        "must_fail": _FLOWS,
    },
    {   # the flows never see the encoder's features
        "name": "models_iaf_context_ignored",
        "module": "models",
        "replace": [(_FLOW_MS, "m, s = flow(z, torch.zeros_like(h))")],
        "must_fail": ["test_encoder_flows_exact"],
    },
    {   # every flow reads mu, not the current z: still a valid (elementwise) flow, but not IAF
        "name": "models_iaf_reads_mu",
        "module": "models",
        "replace": [(_FLOW_MS, "m, s = flow(mu, h)")],
        "must_fail": ["test_encoder_flows_exact"],
    },
    {   # sigma and 1 - sigma swapped: dz'/dz is 1 - sigma, but log sigma is added
        "name": "models_iaf_gate_swapped",
        "module": "models",
        "replace": [(_FLOW_Z, "z = (1 - gate) * z + gate * m")],
        "must_fail": _FLOWS,
    },
    {   # the affine update with the gated update's log-determinant
        "name": "models_iaf_affine_with_gated_logdet",
        "module": "models",
        "replace": [(_FLOW_Z, "z = m + s * z")],
        "must_fail": _FLOWS,
    },
    {   # the order reversed between flows (Kingma et al. do; here it is documented as raster order throughout)
        "name": "models_iaf_order_reversed_between_flows",
        "module": "models",
        "replace": [(_FLOW_LOGDET, _FLOW_LOGDET + "\n            z = z.flip(2, 3)")],
        "must_fail": ["test_encoder_flows_exact", "test_encoder_flows_jacobian"],
    },
    # ---- correct: full marks ----------------------------------------------------------------
    {   # post-activation (the original ResNet): relu(x + F(x)), for both blocks
        "name": "models_ok_blocks_post_activation",
        "module": "models",
        "replace": [(_BLOCK_FORWARD, "        h = self.conv2(F.relu(self.conv1(x)))\n"
                                     "        return F.relu(x + h)\n"),
                    (_MASKED_FORWARD, "        h = self.conv2(F.relu(self.conv1(x)))\n"
                                      "        return F.relu(x + h)\n")],
        "must_fail": [],
    },
    {   # no activation before the first convolution or after the sum: x + conv(relu(conv(x)))
        "name": "models_ok_blocks_plain_residual",
        "module": "models",
        "replace": [(_BLOCK_FORWARD, "        return x + self.conv2(F.relu(self.conv1(x)))\n"),
                    (_MASKED_FORWARD, "        return x + self.conv2(torch.relu(self.conv1(x)))\n")],
        "must_fail": [],
    },
    {   # other layer names, three convolutions in an nn.Sequential, no biases
        "name": "models_ok_blocks_sequential_three_convs",
        "module": "models",
        "replace": [(_BLOCK_CONVS, "        self.body = nn.Sequential(*[m for _ in range(3) for m in (\n"
                                   "            nn.ReLU(), nn.Conv2d(filters, filters, 3, padding=1, bias=False))])\n"),
                    (_BLOCK_FORWARD, "        return x + self.body(x)\n"),
                    (_MASKED_CONVS, "        self.layers = nn.ModuleList(\n"
                                    '            [MaskedConv2d("B", filters, filters, 3, padding=1, bias=False)'
                                    " for _ in range(3)])\n"),
                    (_MASKED_FORWARD, "        h = x\n"
                                      "        for layer in self.layers:\n"
                                      "            h = layer(F.relu(h))\n"
                                      "        return h + x\n")],
        "must_fail": [],
    },
    {   # the affine IAF update, with log|s|
        "name": "models_ok_iaf_affine",
        "module": "models",
        "replace": [(_FLOW_GATE, "pass"), (_FLOW_Z, "z = m + s * z"),
                    (_FLOW_LOGDET, "logqzx = logqzx + torch.log(torch.abs(s)).view(-1, 49).sum(1)")],
        "must_fail": [],
    },
    {   # the gated update in other forms: z = m + sigma (z - m), log sigma = -softplus(-s), summed over dims
        "name": "models_ok_iaf_gated_softplus",
        "module": "models",
        "replace": [(_FLOW_Z, "z = m + gate * (z - m)"),
                    (_FLOW_LOGDET, "logqzx = logqzx - F.softplus(-s).sum(dim=(1, 2, 3))")],
        "must_fail": [],
    },
    {   # float32-friendly code: log(sigmoid) with a float32 guard, a float32 mask buffer, float32 constants
        "name": "models_ok_float32_friendly",
        "module": "models",
        "replace": [(_FLOW_LOGDET, "logqzx = logqzx + torch.log(gate.clamp_min(torch.tensor(1e-30))).flatten(1).sum(1)"),
                    (_MASK_INIT, "mask = torch.ones(self.weight.shape, dtype=torch.float32)"),
                    (_BLOCK_FORWARD, _BLOCK_FORWARD.replace("return x + h", "return x + h * torch.tensor(1.0)"))],
        "must_fail": [],
    },
]
