"""Variants of the hw3 GAN solution key (gan.py), and the tests each must fail.

Same format as hw1's: each variant applies text replacements to assignments/hw3/gan.py (the
solution source: its SOLUTION markers are comments, so it runs as it is) and is graded with
the public and hidden tests, the other hand-in files being the key's. A wrong variant must
fail exactly the tests in ``must_fail``; a correct one (``must_fail == []``) must get full
marks. Every ``old`` text occurs exactly once in the source. Names start with ``gan_``. The
list is data only; the harness lives with the tests.

Calibration of the training checks (MLPs of width 64, depth 2; 8 Gaussians of std 0.05 on a
circle of radius 2; 2000 samples; a mode is covered when a quarter of its fair share lies within
0.5 of its centre; pass: the runs cover >= 4 of 8 on average). Measured with 1 CPU thread, in
process, modes covered per run (the tests use GAN seeds 0-2, WGAN-GP seeds 0-1):
GAN (500 steps, batch 64, Adam 4e-3, betas (0.5, 0.999)), about 1 s a run:
  key, seeds 0-9: 8 8 8 8 3 8 8 8 8 8 (seed 4 collapses; gan_ok_bce_with_logits and
  gan_ok_losses_in_float32, seeds 0-5, follow the key seed by seed: 8 8 8 8 4 8 and 8 8 8 8 3 8);
  saturating loss 8 8 8 and generator first 8 8 8 (both caught by the exact tests only);
  D-step leak into G's update 3 6 5 (mean 4.7: passes; the exact tests catch it);
  failing: sigmoid twice in the D step 0 0 0, labels swapped 0 0 0, detached fakes in G's step
  0 0 0, no zero_grad in D's step 0 0 1.
WGAN-GP (250 generator steps, n_critic 2, lam 0.1, Adam 5e-3, betas (0.5, 0.9)), about 1 s a run:
  key, seeds 0-9: 8 8 8 8 7 8 5 8 8 8; penalty at the real data 8 8 and one-sided penalty 8 8 (the
  exact tests catch them); failing: critic sign 0 0, missing square 2 1, no create_graph 1 0,
  lam ignored (10 instead of 0.1) 2 2, n_critic ignored 1 2.
"""

# Lines of the solution that several variants edit.
_D_LOSS = "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()"
_G_LOSS = "return F.softplus(-fake_logits).mean()"
_D_FAKE = "fake = generator(noise).detach()  # G is not trained here"
_D_CALL = "loss = discriminator_loss(discriminator(real), discriminator(fake))"
_D_BACKWARD = "d_opt.zero_grad()\n    loss.backward()\n    d_opt.step()"
_G_CALL = "loss = generator_loss(discriminator(generator(noise)))"
_G_BACKWARD = ("g_opt.zero_grad()\n    loss.backward()  # also fills D's .grad; discriminator_step zeroes it"
               " before its own backward\n    g_opt.step()")
_GAN_STEP = ("d_loss = discriminator_step(generator, discriminator, d_opt, real, noise_d)\n"
             "    g_loss = generator_step(generator, discriminator, g_opt, noise_g)")
_C_LOSS = "return fake_scores.mean() - real_scores.mean()"
_WG_LOSS = "return -fake_scores.mean()"
_CLAMP = "            p.clamp_(-clip, clip)"
_CLIP_AFTER = ("c_opt.zero_grad()\n    loss.backward()\n    c_opt.step()\n"
               "    clip_weights(critic, clip)  # after the step, so that the weights kept are clipped")
_WGAN_LOOP = ("for real, noise in zip(reals, noises):\n"
              "        c_loss = critic_step(generator, critic, c_opt, real, noise, clip)")
_X_HAT = "x_hat = (alpha * real_data + (1 - alpha) * fake_data).detach().requires_grad_(True)  # (B, ...)"
_GRAD = "(grad,) = torch.autograd.grad(f(x_hat).sum(), x_hat, create_graph=True)  # rows are independent"
_NORMS = "norms = grad.flatten(1).norm(2, dim=1)  # (B,)"
_GP = "return ((norms - 1) ** 2).mean()"
_GP_LOSS = "loss = critic_loss(critic(real), critic(fake)) + lam * gradient_penalty(critic, real, fake, alpha)"
_GP_LOOP = ("for real, noise, alpha in zip(reals, noises, alphas):\n"
            "        c_loss = critic_gp_step(generator, critic, c_opt, real, noise, alpha, lam)")

_D_LOSS_ALL = ["test_discriminator_loss_values", "test_gan_losses_exact", "test_gan_losses_stable",
               "test_losses_stable_at_100"]
_D_STEPS = ["test_discriminator_step_by_hand", "test_discriminator_step_exact", "test_gan_step_exact"]
_G_STEPS = ["test_generator_step_by_hand", "test_generator_step_exact", "test_gan_step_exact"]
_GP_STEPS = ["test_critic_gp_step_exact", "test_wgan_gp_step_exact"]
_GP_VALUES = ["test_gradient_penalty_linear_critic", "test_gradient_penalty_linear_exact",
              "test_gradient_penalty_exact"]
_WGAN_STEPS = ["test_critic_step_clips_after_the_step", "test_critic_step_exact", "test_wgan_step_exact"]

VARIANTS = [
    # ---- wrong: GAN losses ------------------------------------------------------------------
    {   # the minimax game's own generator loss E log(1 - D(G(z))): no gradient where D is sure
        "name": "gan_saturating_generator_loss",
        "module": "gan",
        "replace": [(_G_LOSS, "return -F.softplus(fake_logits).mean()")],
        "must_fail": ["test_generator_loss_values", "test_losses_stable_at_100", "test_gan_losses_exact",
                      "test_gan_losses_stable", *_G_STEPS],
    },
    {   # probabilities where logits belong: the loss squashes D's output with a second sigmoid
        "name": "gan_discriminator_loss_sigmoid_twice",
        "module": "gan",
        "replace": [(_D_LOSS, "return (F.binary_cross_entropy_with_logits(torch.sigmoid(real_logits),"
                              " torch.ones_like(real_logits))\n"
                              "            + F.binary_cross_entropy_with_logits(torch.sigmoid(fake_logits),"
                              " torch.zeros_like(fake_logits)))")],
        "must_fail": [*_D_LOSS_ALL, *_D_STEPS, "test_training_gan_covers_the_ring"],
    },
    {   # the step turns D's logits into probabilities before the loss (which expects logits)
        "name": "gan_discriminator_step_sigmoid_twice",
        "module": "gan",
        "replace": [(_D_CALL, "loss = discriminator_loss(torch.sigmoid(discriminator(real)),"
                              " torch.sigmoid(discriminator(fake)))")],
        "must_fail": [*_D_STEPS, "test_training_gan_covers_the_ring"],
    },
    {   # the textbook formula in code: log(1 - sigmoid(100)) = log(0) = -inf
        "name": "gan_discriminator_loss_naive_logs",
        "module": "gan",
        "replace": [(_D_LOSS, "return (-torch.log(torch.sigmoid(real_logits)).mean()"
                              " - torch.log(1 - torch.sigmoid(fake_logits)).mean())")],
        "must_fail": ["test_losses_stable_at_100", "test_gan_losses_stable"],
    },
    {   # -log sigmoid(f) directly: sigmoid(-800) = 0 in float64 (and sigmoid(-200) in float32)
        "name": "gan_generator_loss_naive_log",
        "module": "gan",
        "replace": [(_G_LOSS, "return -torch.log(torch.sigmoid(fake_logits)).mean()")],
        "must_fail": ["test_losses_stable_at_100", "test_gan_losses_stable"],
    },
    {   # real and fake labels swapped: D learns to call fakes real
        "name": "gan_discriminator_labels_swapped",
        "module": "gan",
        "replace": [(_D_LOSS, "return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()")],
        "must_fail": ["test_discriminator_loss_values", "test_gan_losses_exact", *_D_STEPS,
                      "test_training_gan_covers_the_ring"],
    },
    # ---- wrong: GAN steps -------------------------------------------------------------------
    {   # fakes not detached in D's step: D's loss fills G's .grad (wasted, and wrong for any
        # generator step that does not zero its gradients first)
        "name": "gan_discriminator_step_not_detached",
        "module": "gan",
        "replace": [(_D_FAKE, "fake = generator(noise)")],
        "must_fail": ["test_discriminator_step_leaves_generator_alone"],
    },
    {   # not detached, and G's step zeroes its gradients after its update instead of before:
        # D's loss now pushes G (in the wrong direction)
        "name": "gan_discriminator_step_leaks_into_generator_update",
        "module": "gan",
        "replace": [(_D_FAKE, "fake = generator(noise)"),
                    (_G_BACKWARD, "loss.backward()\n    g_opt.step()\n    g_opt.zero_grad()")],
        "must_fail": ["test_discriminator_step_leaves_generator_alone", "test_gan_step_exact"],
    },
    {   # the generator's loss through detached fakes: no gradient reaches G, which never moves
        "name": "gan_generator_step_detached_fakes",
        "module": "gan",
        "replace": [(_G_CALL, "loss = generator_loss(discriminator(generator(noise).detach()))")],
        "must_fail": [*_G_STEPS, "test_training_gan_covers_the_ring"],
    },
    {   # no d_opt.zero_grad(): the generator's loss of the last step is added to D's gradient
        "name": "gan_discriminator_step_no_zero_grad",
        "module": "gan",
        "replace": [(_D_BACKWARD, "loss.backward()\n    d_opt.step()")],
        "must_fail": ["test_gan_step_exact", "test_training_gan_covers_the_ring"],
    },
    {   # the generator first, then the discriminator
        "name": "gan_step_generator_first",
        "module": "gan",
        "replace": [(_GAN_STEP, "g_loss = generator_step(generator, discriminator, g_opt, noise_g)\n"
                                "    d_loss = discriminator_step(generator, discriminator, d_opt, real, noise_d)")],
        "must_fail": ["test_gan_step_exact"],
    },
    # ---- wrong: WGAN ------------------------------------------------------------------------
    {   # the critic maximises E D(G(z)) - E D(x): it scores fakes high
        "name": "gan_critic_loss_wrong_sign",
        "module": "gan",
        "replace": [(_C_LOSS, "return real_scores.mean() - fake_scores.mean()")],
        "must_fail": ["test_wasserstein_losses_values", "test_wasserstein_losses_exact", *_WGAN_STEPS,
                      *_GP_STEPS, "test_training_wgan_gp_covers_the_ring"],
    },
    {   # the generator's loss with the wrong sign: it runs away from the data
        "name": "gan_wgan_generator_loss_wrong_sign",
        "module": "gan",
        "replace": [(_WG_LOSS, "return fake_scores.mean()")],
        "must_fail": ["test_wasserstein_losses_values", "test_wasserstein_losses_exact",
                      "test_wgan_generator_step_exact", "test_wgan_step_exact", "test_wgan_gp_step_exact",
                      "test_training_wgan_gp_covers_the_ring"],
    },
    {   # clipped before the step: the weights the critic keeps leave [-c, c]
        "name": "gan_clip_before_step",
        "module": "gan",
        "replace": [(_CLIP_AFTER, "clip_weights(critic, clip)\n    c_opt.zero_grad()\n    loss.backward()\n"
                                  "    c_opt.step()")],
        "must_fail": [*_WGAN_STEPS, "test_critic_step_weights_within_clip"],
    },
    {   # weights only, biases left unclipped
        "name": "gan_clip_weights_not_biases",
        "module": "gan",
        "replace": [(_CLAMP, "            if p.dim() > 1:\n                p.clamp_(-clip, clip)")],
        "must_fail": ["test_clip_weights", "test_clip_weights_exact", "test_critic_step_exact", "test_wgan_step_exact",
                      "test_critic_step_weights_within_clip"],
    },
    {   # n_critic ignored: one critic step on the first batch
        "name": "gan_wgan_n_critic_ignored",
        "module": "gan",
        "replace": [(_WGAN_LOOP, "c_loss = critic_step(generator, critic, c_opt, reals[0], noises[0], clip)")],
        "must_fail": ["test_wgan_step_exact"],
    },
    {   # the same (first) batch in every critic step
        "name": "gan_wgan_same_batch_each_critic_step",
        "module": "gan",
        "replace": [(_WGAN_LOOP, "for real, noise in zip(reals, noises):\n"
                                 "        c_loss = critic_step(generator, critic, c_opt, reals[0], noises[0], clip)")],
        "must_fail": ["test_wgan_step_exact"],
    },
    # ---- wrong: WGAN-GP ---------------------------------------------------------------------
    {   # the penalty at the real samples instead of the interpolates (alpha ignored)
        "name": "gan_penalty_on_real_data",
        "module": "gan",
        "replace": [(_X_HAT, "x_hat = real_data.detach().requires_grad_(True)")],
        "must_fail": ["test_gradient_penalty_exact", *_GP_STEPS],
    },
    {   # interpolation weights the other way round: alpha weighs the fakes
        "name": "gan_penalty_alpha_on_fakes",
        "module": "gan",
        "replace": [(_X_HAT, "x_hat = (alpha * fake_data + (1 - alpha) * real_data).detach().requires_grad_(True)")],
        "must_fail": ["test_gradient_penalty_exact", *_GP_STEPS],
    },
    {   # (||g|| - 1) without the square: unbounded below, it rewards large gradients
        "name": "gan_penalty_missing_square",
        "module": "gan",
        "replace": [(_GP, "return (norms - 1).mean()")],
        "must_fail": [*_GP_VALUES, "test_gradient_penalty_backpropagates", *_GP_STEPS,
                      "test_training_wgan_gp_covers_the_ring"],
    },
    {   # one-sided penalty max(0, ||g|| - 1)^2: another method, not the one asked for
        "name": "gan_penalty_one_sided",
        "module": "gan",
        "replace": [(_GP, "return ((norms - 1).clamp(min=0) ** 2).mean()")],
        "must_fail": [*_GP_VALUES, "test_gradient_penalty_backpropagates", *_GP_STEPS],
    },
    {   # the norm over dim 1 only: for images a norm per pixel position, not per sample
        "name": "gan_penalty_norm_over_channels",
        "module": "gan",
        "replace": [(_NORMS, "norms = grad.norm(2, dim=1)")],
        "must_fail": _GP_VALUES,
    },
    {   # no create_graph: the penalty is a constant for the optimiser, the critic is unconstrained
        "name": "gan_penalty_no_create_graph",
        "module": "gan",
        "replace": [(_GRAD, "(grad,) = torch.autograd.grad(f(x_hat).sum(), x_hat)")],
        "must_fail": ["test_gradient_penalty_backpropagates", *_GP_STEPS, "test_training_wgan_gp_covers_the_ring"],
    },
    {   # lam ignored: always 10
        "name": "gan_penalty_weight_ignored",
        "module": "gan",
        "replace": [(_GP_LOSS, "loss = critic_loss(critic(real), critic(fake)) + 10.0 * gradient_penalty(critic,"
                               " real, fake, alpha)")],
        "must_fail": ["test_critic_gp_step_exact", "test_training_wgan_gp_covers_the_ring"],
    },
    {   # n_critic ignored in WGAN-GP
        "name": "gan_wgan_gp_n_critic_ignored",
        "module": "gan",
        "replace": [(_GP_LOOP, "c_loss = critic_gp_step(generator, critic, c_opt, reals[0], noises[0], alphas[0],"
                               " lam)")],
        "must_fail": ["test_wgan_gp_step_exact", "test_training_wgan_gp_covers_the_ring"],
    },
    # ---- correct: full marks ----------------------------------------------------------------
    {   # other reductions: sums over numel, and the two terms stacked
        "name": "gan_ok_reduction_order",
        "module": "gan",
        "replace": [(_D_LOSS, "return torch.stack([F.softplus(-real_logits).sum() / real_logits.numel(),"
                              " F.softplus(fake_logits).sum() / fake_logits.numel()]).sum()"),
                    (_C_LOSS, "return -(real_scores.sum() / real_scores.numel() - fake_scores.mean())"),
                    (_GP, "return ((norms - 1) ** 2).sum() / norms.numel()")],
        "must_fail": [],
    },
    {   # the GAN losses computed in float32 and cast back (errors ~1e-7, within the tolerance)
        "name": "gan_ok_losses_in_float32",
        "module": "gan",
        "replace": [(_D_LOSS, "return (F.softplus(-real_logits.float()).mean()"
                              " + F.softplus(fake_logits.float()).mean()).to(real_logits.dtype)"),
                    (_G_LOSS, "return F.softplus(-fake_logits.float()).mean().to(fake_logits.dtype)")],
        "must_fail": [],
    },
    {   # torch's binary cross-entropy with logits instead of softplus by hand
        "name": "gan_ok_bce_with_logits",
        "module": "gan",
        "replace": [(_D_LOSS, "return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))\n"
                              "            + F.binary_cross_entropy_with_logits(fake_logits,"
                              " torch.zeros_like(fake_logits)))"),
                    (_G_LOSS, "return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))")],
        "must_fail": [],
    },
    {   # -logsigmoid instead of softplus
        "name": "gan_ok_logsigmoid",
        "module": "gan",
        "replace": [(_D_LOSS, "return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()"),
                    (_G_LOSS, "return -F.logsigmoid(fake_logits).mean()")],
        "must_fail": [],
    },
    {   # torch.autograd.grad into .grad instead of backward, and fakes made under no_grad
        "name": "gan_ok_autograd_grad_and_no_grad_fakes",
        "module": "gan",
        "replace": [(_D_FAKE, "with torch.no_grad():\n        fake = generator(noise)"),
                    (_D_BACKWARD, "d_opt.zero_grad()\n"
                                  "    params = [p for p in discriminator.parameters() if p.requires_grad]\n"
                                  "    for p, g in zip(params, torch.autograd.grad(loss, params)):\n"
                                  "        p.grad = g\n"
                                  "    d_opt.step()")],
        "must_fail": [],
    },
    {   # the critic frozen during the generator's step (no gradient for it at all)
        "name": "gan_ok_generator_step_freezes_critic",
        "module": "gan",
        "replace": [(_G_CALL, "discriminator.requires_grad_(False)\n"
                              "    loss = generator_loss(discriminator(generator(noise)))"),
                    (_G_BACKWARD, "g_opt.zero_grad()\n    loss.backward()\n    g_opt.step()\n"
                                  "    discriminator.requires_grad_(True)")],
        "must_fail": [],
    },
    {   # interpolates not detached (the inputs need no gradient), and the norm by hand
        "name": "gan_ok_penalty_norm_by_hand",
        "module": "gan",
        "replace": [(_X_HAT, "x_hat = alpha * real_data + (1 - alpha) * fake_data\n    x_hat.requires_grad_(True)"),
                    (_NORMS, "norms = grad.pow(2).reshape(len(grad), -1).sum(dim=1).sqrt()")],
        "must_fail": [],
    },
    {   # clipping through .data, critic loops by index
        "name": "gan_ok_clip_data_and_index_loops",
        "module": "gan",
        "replace": [(_CLAMP, "            p.data.clamp_(min=-clip, max=clip)"),
                    (_WGAN_LOOP, "for i in range(len(reals)):\n"
                                 "        c_loss = critic_step(generator, critic, c_opt, reals[i], noises[i], clip)")],
        "must_fail": [],
    },
]
