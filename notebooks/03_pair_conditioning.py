# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   clipbook:
#     key_figure: fig-ch3-condition
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Pair-driven conditioning
#
# **The claim** {cite}`ren2023importance`: the two kinds of pairs in CLIP's loss do different
# jobs. Take a linear model of two views (an image and its caption) of one shared latent whose
# directions have very different variances (*anisotropic* data), and train it by gradient
# descent from a small initialization. Learning then goes in two stages. First the *positive*
# pairs align the two views' representations, and the condition number of the learned
# representation grows while they do. Then the *negative* pairs bring the condition number back
# down, until every latent direction is learned and all are equally strong. Without negative
# pairs nothing stops the strong directions: the representation stays ill-conditioned and loses
# its weak directions (rank collapse).
#
# Why does this matter for robustness? A representation that keeps only the directions that
# dominated the pre-training data has nothing to offer a downstream task that depends on a
# direction that was weak there. Balancing is what lets contrastive pre-training keep them all.
# That argument is this book's reading, not the paper's (which motivates balance by efficiency), and
# claim g below puts it to a test.

# %% tags=["parameters"]
kappa_zs: list[float] = [1.0, 10.0, 100.0]  # condition numbers of the latent covariance (claims at the largest) {min 1, non-empty}
neg_weights: list[float] = [0.0, 0.03, 0.1, 0.3, 1.0]  # weights of the negative pairs (1 is CLIP, 0 positives only) {min 0, max 1, non-empty}
inside_weights: list[float] = [0.03, 0.1, 0.3]  # the same weights inside the log-sum-exp, at the largest kappa_z (this book's bounded variant) {above 0, below 1}
n_seeds: int = 7  # independent seeds per setting (data, embeddings and initialization) {min 2, max 1000}
first_seed: int = 5000  # seeds are first_seed, ..., first_seed + n_seeds - 1 (choose fresh ones to check a result) {min 0, max 1_000_000_000}
latent_dim: int = 8  # dimension r of the shared latent {min 1, max 4096}
view_dim: int = 32  # input dimension of each view (at least latent_dim) {min 1, max 4096}
noise_std: float = 0.02  # standard deviation of the isotropic noise in each view {min 0}
embed_dim: int = 16  # dimension of the shared embedding space (at least latent_dim) {min 1, max 4096}
n_train: int = 4096  # training pairs per model {min 1, max 500000}
n_probe: int = 256  # held-out pairs the alignment is measured on {min 2, max 100000}
init_scale: float = 0.01  # initial weights have standard deviation init_scale / sqrt(view_dim): small {above 0}
norm_budget: float = 2.0  # radius of the norm ball, in units of the norm of the balanced CLIP optimum {above 0}
steps: int = 8000  # gradient steps (the weakest direction is learned at a rate 1 / kappa_z) {min 1, max 1_000_000}
batch_size: int = 64  # minibatch size (the number of in-batch negatives + 1) {min 2, max 65536}
lr: float = 0.25  # SGD learning rate {above 0}
log_every: int = 10  # steps between measurements of the representation {min 1, max 1_000_000}
enforce_claims: bool = True  # fail the run when a verdict differs from the text (other runs than the default report only)
not_reproduced: list[str] = []  # the claims this run's text reports as not reproduced
undecided: list[str] = ["c"]  # the claims this run's text reports as undecided

# %% tags=["remove-cell"]
# The values a run gives (the runner, or plain papermill) checked against the cell above.
from clipbook import check_parameters

check_parameters("03_pair_conditioning", globals())

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from clipbook import ClaimSet, SUMMARY, TrainConfig, ci_table, controls, plots, prose, records
from clipbook.data import ViewSpec
from clipbook.experiments import conditioning

plots.set_style()
kappa_main = max(kappa_zs)  # the most anisotropic world: figures and claims

# %% [markdown]
# ## The model
#
# A latent $z \in \mathbb{R}^r$ has independent coordinates whose variances $\lambda_i$ fall
# geometrically from 1 to $1/\kappa_z$, so $\kappa_z$ is the condition number of its covariance.
# Each view is a random isometric embedding of it plus noise, $x_A = U_A z + \sigma\xi_A$ and
# $x_B = U_B z + \sigma\xi_B$: a positive pair shares $z$ and differs in embedding and noise. This
# is the paper's data model $x_A = A z + \xi_A$ with an anisotropic $A = U_A D$,
# $D = \mathrm{diag}(\sqrt{\lambda_i})$, acting on a standardized latent.
#
# The encoders are linear, $f_A(x) = W_A x$ and $f_B(x) = W_B x$, and their features are not
# normalized: that is what gives a small initialization its meaning (with normalized features the
# scale of the weights would drop out of the loss). The similarities are
# $s_{ij} = \tau \langle f_A(x_A^i), f_B(x_B^j) \rangle$ at a fixed temperature ($\tau = 1$ loses
# nothing: with unnormalized features it only rescales the weights and the learning rate). The loss
# is the symmetric InfoNCE whose negative pairs count with weight $w$ = `neg_weight`,
# $-s_{ii} + w \log \sum_j e^{s_{ij}}$ in both directions: $w = 1$ is CLIP's loss, $w = 0$ keeps the
# positive pairs only. Training is plain minibatch SGD
# from a small Gaussian initialization, close to the gradient dynamics the paper analyses (Adam
# would rescale every coordinate's step and blur the rates the mechanism rests on).
#
# For $w < 1$ the loss is unbounded below: growing the weights along directions where the positive
# pair beats the negatives lowers it forever. Positive-only learning needs a norm constraint to be
# a problem at all, so every encoder lives in a Frobenius ball of radius `norm_budget` times the
# norm of CLIP's balanced optimum (below), a constraint that does not bind for CLIP (the read-out
# table after the sweep checks it).
#
# What we measure is the learned representation of the latent, $R_A = W_A U_A D$ (the paper's
# $W_A A$). Its singular values say how strongly each latent direction is represented; its
# condition number $\kappa(R_A)$ says whether they are balanced (1) or not.

# %% [markdown]
# ## What the theory predicts, and the tolerances it sets
#
# The two stages are the paper's; the derivations below, and the tolerances set from them, are this
# chapter's, written for its model (they are what a reader can check against the figures).
#
# *Stage 1.* While the weights are small, expand the log-sum-exp around zero: the negatives enter
# through the batch mean of $s_{ij}$, which is close to zero for centred data, and through its
# variance, which is fourth order in the weights. What is left is the positive pairs' term
# $-\tau\,\mathrm{tr}(R_A R_B^\top)$, and gradient flow on it is $\dot R_A = \tau R_B D^2$: the
# difference $R_A - R_B$ decays (the views align) while latent direction $i$ grows like
# $e^{\tau \lambda_i t}$. Strong directions are learned first, and the condition number grows like
# $e^{\tau(\lambda_1 - \lambda_r)t}$.
#
# *Stage 2.* Once the weights are large the fourth-order term takes over. For Gaussian data and many
# negatives it is exact, $\log \mathbb{E}\, e^{\tau u^\top v'} = \tfrac{\tau^2}{2} u^\top \Sigma_v u$,
# and the loss becomes $-\tau\,\mathrm{tr}(R_A R_B^\top) + \tfrac{\tau^2}{2}\mathrm{tr}(\Sigma_u \Sigma_v)$.
# It stops each direction at singular value $\rho_i / \sqrt{\tau}$, where
# $\rho_i = \lambda_i / (\lambda_i + \sigma^2)$ is how much of direction $i$ the two views share:
# the strong directions stop, the weak ones catch up, and the representation ends balanced with
# $\kappa^\ast = \rho_1 / \rho_r$. **Without negatives**, on the norm ball, the positive term is
# largest when all the norm sits on the strongest direction: $\kappa \to \infty$, rank one.
#
# The claims' tests were set from this derivation (the chapter's, not the paper's) before the
# experiment was run. The theory's balanced value
# is close to 1 here (table below); we call the end "close to 1" if the final
# condition number is at most $2\kappa^\ast$: the best- and worst-learned directions within a factor
# of two, where the data's own ratio is $\sqrt{\kappa_z}$ (10 at $\kappa_z = 100$). The factor two is
# slack for what the theory leaves out: 63 in-batch negatives rather than infinitely many, SGD
# noise, a finite training set. "Well above the start" is at least ten times the initial condition
# number (stage 1 predicts growth of order $(1/\text{init})^{1 - 1/\kappa_z}$, hundreds here), and
# "orders of magnitude" is at least a hundredfold.

# %%
spec = ViewSpec(latent_dim=latent_dim, dim_a=view_dim, dim_b=view_dim, noise_std=noise_std)
conditioning.theory_table(spec, kappa_zs, norm_budget).round(3)

# %% [markdown]
# ## Training every setting at once
#
# Every (negative weight, $\kappa_z$, seed) combination is one model, and all of them train as one
# batched program. Common random numbers: a seed draws the same latent samples, embeddings, noise
# and initial weights in every setting, so settings differ only in what they change. The table
# gives the final $\log_{10}$ condition number (mean and 95% interval over seeds).

# %%
config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, optimizer="sgd", log_every=log_every)
seeds = range(first_seed, first_seed + n_seeds)
problem = dict(n_train=n_train, n_probe=n_probe, embed_dim=embed_dim, init_scale=init_scale, norm_budget=norm_budget,
               config=config)
sweep = conditioning.run_sweep(spec, kappa_zs, neg_weights, seeds, inside_weights=inside_weights, **problem)
print(f"{sweep.results.shape[0]} models trained in {sweep.seconds:.0f} s")
outside = sweep.results[sweep.results.negatives == "outside"]
ci_table(outside, "neg_weight", "kappa_z", "log10_final", digits=2)

# %% [markdown]
# ## Rise, then fall
#
# {numref}`fig-ch3-condition` follows the condition number through training in the most
# anisotropic world. With CLIP's loss it first climbs by orders of magnitude, as stage 1 predicts,
# and then comes back down to the balanced value. Weaker negatives let it climb and never bring it
# back.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Condition number of the learned representation of the latent (log10; mean and 95% band over seeds) over training, at the largest latent condition number of the sweep, one curve per weight of the negative pairs; the step axis is linear up to 10 and logarithmic beyond. Look at CLIP's loss (neg_weight 1.0): it climbs while the positive pairs do the learning, then falls back to the theory's balanced value (dotted line). With weaker negatives it only climbs.", "name": "fig-ch3-condition"}}
fig, ax = plt.subplots()
plots.lines_with_ci(conditioning.curves(sweep.history, "condition", kappa_main, log10=True), "step", "value",
                    "neg_weight", ax=ax, marker=None, ylabel="log10 condition number")
ax.axhline(np.log10(conditioning.balanced_condition_number(replace(spec, kappa_z=kappa_main))),
           color="0.4", ls=":", lw=1)
ax.set_xscale("symlog", linthresh=10)
ax.set_xlim(left=0)
ax.legend(title="neg_weight", frameon=False, fontsize="small")
plt.show()

# %% [markdown]
# ## Directions learned one by one
#
# {numref}`fig-ch3-singular` opens the condition number up into the singular values of the
# representation. With CLIP's loss they rise one after another, strongest direction first, as
# stage 1's rates $\tau\lambda_i$ say, and each stops at the same height when the negative pairs take
# over. With positive pairs only, the strongest direction takes the whole norm budget and the
# others fade.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Singular values of the learned representation (log10; mean and 95% band over seeds) over training at the largest latent condition number; colours from the largest (1) to the smallest. Left: CLIP's loss; the directions are learned one by one, strongest first, and end together. Right: positive pairs only; one direction keeps the norm and the rest decay.", "name": "fig-ch3-singular"}}
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, w, title in zip(axes, (1.0, 0.0), ("CLIP's loss (neg_weight 1)", "positive pairs only (neg_weight 0)")):
    with sns.color_palette("viridis", latent_dim):
        plots.lines_with_ci(conditioning.singular_value_curves(sweep.history, kappa_main, w), "step", "value",
                            "direction", ax=ax, marker=None, ylabel="log10 singular value")
    ax.set_xscale("symlog", linthresh=10)
    ax.set(title=title, xlim=(0, steps))
axes[1].get_legend().remove()
axes[0].legend(title="k-th largest", loc="lower right", ncol=2, frameon=False, fontsize="small")
plt.show()

# %% [markdown]
# ## Alignment comes first
#
# The positive pairs' first job is to align the views. {numref}`fig-ch3-alignment` measures it
# directly on held-out pairs: the cosine similarity between the two views' features of the same
# sample. It saturates early, long before the condition number peaks, whatever the negative weight:
# aligning is the positive pairs' work, and balancing does not undo it.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Alignment of the two views (mean cosine similarity between the features of held-out positive pairs; mean and 95% band over seeds) over training at the largest latent condition number, one curve per negative weight. The dotted vertical line is the median step at which CLIP's condition number peaks: the views are aligned before it, and stay aligned while the representation is rebalanced.", "name": "fig-ch3-alignment"}}
fig, ax = plt.subplots()
plots.lines_with_ci(conditioning.curves(sweep.history, "alignment", kappa_main), "step", "value", "neg_weight",
                    ax=ax, marker=None, ylabel="positive-pair cosine similarity")
clip_final = outside[(outside.kappa_z == kappa_main) & (outside.neg_weight == 1.0)]
ax.axvline(clip_final.peak_step.median(), color="0.4", ls=":", lw=1)
ax.set_xscale("symlog", linthresh=10)
ax.set_xlim(left=0)
ax.legend(title="neg_weight", frameon=False, fontsize="small")
plt.show()

# %% [markdown]
# ## Across anisotropies and negative weights
#
# {numref}`fig-ch3-heatmap` gives the final condition number for every setting of the sweep. In
# the isotropic world ($\kappa_z = 1$, bottom row) the response to the weight of the negatives is
# graded: the more weight, the more of the representation survives the norm constraint. In the
# anisotropic worlds it is a step: every weight below 1 ends with a collapsed representation, and
# only the full contrastive loss balances it. The table after the figure reads the most
# anisotropic world's runs in two more ways: the effective rank (RankMe: how many of the latent
# directions are in use) and the norm of the encoder's parameters relative to the norm ball (above
# 1: the constraint binds).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Final condition number of the learned representation (log10, mean over seeds) for every latent condition number (rows, most anisotropic at the top) and weight of the negative pairs (columns). 0 is perfectly balanced; look at which cells stay near it and how that changes down the rows.", "name": "fig-ch3-heatmap"}}
fig, ax = plt.subplots(figsize=(6.4, 3.6))
plots.heatmap(outside, "kappa_z", "neg_weight", "log10_final", ax=ax, fmt=".1f",
              label="log10 final condition number")
plt.show()

# %%
conditioning.readout_table(sweep.results, kappa_main)

# %% [markdown]
# ## Switching the negatives off at the peak
#
# That the representation stays ill-conditioned *without* negatives (claim b below, marked as the
# book's for this reason) holds almost by construction: with $w < 1$ the loss is unbounded and the ball decides the end. The informative
# test of stage two is to take CLIP's own run and remove the negatives at the moment they start
# their work. The switched run is CLIP's run of the sweep (same data, start and batches) until the
# median step of CLIP's condition-number peak; then it trains on the positive pairs only until
# halfway to the end, and then with CLIP's loss again. If the negatives are what brings the
# condition number down, its fall stops at the switch and restarts when they return.

# %%
off, on = conditioning.switch_steps(sweep.results, kappa_main, steps, log_every)
switched = conditioning.run_switch(spec, kappa_main, seeds, [(off, 1.0), (on - off, 0.0), (steps - on, 1.0)], **problem)
print(f"negatives off at step {off}, on again at step {on}")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Condition number of the learned representation (log10; mean and 95% band over seeds) at the largest latent condition number: CLIP's run, and the same run with the negatives switched off at CLIP's median peak (first dotted line) and on again halfway to the end (second dotted line).", "name": "fig-ch3-switch"}}
clip_curve = conditioning.curves(sweep.history, "condition", kappa_main, log10=True)
runs = pd.concat([clip_curve[clip_curve.neg_weight == 1.0].assign(run="CLIP's loss throughout"),
                  conditioning.switch_curve(switched).assign(run="negatives off, then on")])
fig, ax = plt.subplots()
plots.lines_with_ci(runs, "step", "value", "run", ax=ax, marker=None, ylabel="log10 condition number")
for step in (off, on):
    ax.axvline(step, color="0.4", ls=":", lw=1)
plt.show()

# %% [markdown]
# ## Negatives inside the normalizer
#
# The sweep's weights act *outside* the log-sum-exp, and every weight below 1 makes the loss
# unbounded (claim c, below, is about them). The bounded way to weaken the negatives is to weight
# them *inside* it, $-s_{ii} + \log(e^{s_{ii}} + w\sum_{j \neq i} e^{s_{ij}})$: the positive pair
# stays in its own normalizer and the loss never falls below 0. Per sample, its gradient is CLIP's
# direction scaled by $1 - p_{ii}$, the share of the normalizer the negatives hold, so we expected
# the same balanced end, reached more slowly the smaller the weight: within a fixed budget, a final
# condition number that falls as the weight grows. This variant is this book's, not the paper's,
# and its test (claim f) was written before its run. {numref}`fig-ch3-inside` sets the two ways of
# weighting side by side in the most anisotropic world.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Final condition number (log10; mean and 95% band over seeds) against the weight of the negatives at the largest latent condition number, weighted outside the log-sum-exp (the sweep) and inside it (the bounded variant). Weight 1 is CLIP's loss in both; the axis is linear below 0.01.", "name": "fig-ch3-inside"}}
at_main = sweep.results[sweep.results.kappa_z == kappa_main]
clip_row = at_main[(at_main.negatives == "outside") & (at_main.neg_weight == 1.0)]
fig, ax = plt.subplots()
plots.lines_with_ci(pd.concat([at_main, clip_row.assign(negatives="inside")]), "neg_weight", "log10_final",
                    "negatives", ax=ax, xlabel="weight of the negative pairs", ylabel="log10 final condition number")
ax.set_xscale("symlog", linthresh=0.01)
ax.legend(title="weighted", frameon=False)
plt.show()

# %% [markdown]
# ## Does balance buy robustness?
#
# The chapter's opening argued that balance is what lets a representation serve a task that rests on
# directions the pre-training data held weakly. The paper motivates balance by efficiency and runs no
# robustness experiment, so this test is the book's. Every model of the sweep is read as CLIP reads
# its representation, without fitting anything new: each held-out image is matched to its own caption
# among {glue:text}`candidates` captions (as many as a training batch holds) by the trained similarity
# $\langle f_A, f_B \rangle$. It is read twice: in the training world, and in a *shifted* world
# where the strongest quarter of the latent directions no longer pairs the two views (they are drawn
# afresh for the caption), so an image and its caption agree only on the directions that were weaker
# in pre-training. A fitted probe would not do: it can re-weight a weak direction that the
# representation still holds, however faintly, and so cannot see conditioning at all. Claim g, written
# before this read-out was first run, says that across the sweep's models at the largest $\kappa_z$
# (both ways of weighting the negatives) the better conditioned a representation, the better it
# matches in the shifted world. The matching accuracy first reads encoders built with a known
# condition number (the instruments' table below).

# %%
conditioning.matching_table(sweep.results, kappa_main)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Matching accuracy (an image's own caption ranked first among a training batch's worth of captions) against the final condition number (log10), every model at the largest latent condition number, one point per seed and setting. Left: in the training world; right: in the shifted world where only the weaker latent directions pair the views. Chance is the dotted line. Look at whether the points fall from left to right on the right panel.", "name": "fig-ch3-matching"}}
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
for ax, column, title in zip(axes, ("matching", "shifted_matching"), ("training world", "shifted world")):
    sns.scatterplot(at_main, x="log10_final", y=column, hue="neg_weight", style="negatives", palette="viridis",
                    ax=ax, legend=ax is axes[1])
    ax.axhline(1 / batch_size, color="0.4", ls=":", lw=1)
    ax.set(title=title, xlabel="log10 final condition number", ylabel="matching accuracy")
sns.move_legend(axes[1], "upper left", bbox_to_anchor=(1, 1), frameon=False, fontsize="small")
plt.show()

# %% [markdown]
# ## Claims
#
# Each claim is decided by a rule stated before the run ({doc}`../deciding`), at the largest
# $\kappa_z$ of the sweep: *reproduced* when its 95% Student-t interval over seeds clears the
# threshold in the paper's direction, *not reproduced* when it lies wholly on the other side,
# *undecided* when it straddles it, with the power of the design beside every verdict (computed at
# the value a clear effect would have: a hundredfold rise, a steady fall, the theory's balanced
# condition number). The comparison of the two losses is paired by seed (the same data and initial
# weights). "Aligned" in d means at least 90% of the final alignment; e asks CLIP's run to fall at
# least tenfold over the window where the switched run has no negatives, the switched run to fall
# by no more than 0.1 in log10 there (about 20%), and to fall at least tenfold once they are back.
# Every claim but d reads the condition number, which first reads matrices of known condition; claim g
# also reads the matching accuracy, which first reads encoders built with a known condition number.
#
# A claim marked *this book* in the table is the book's own extension of the paper (a control, a
# finer dose-response, a prediction the paper's text does not make); its verdict says nothing
# about the paper.
#
# **Seeds.** Seven, from 5000 onwards: a seed set first run after these rules were written. The
# chapter first ran five; claims c and f were undecided there (f's exact sign test needs six seeds),
# and the seeds were raised to seven once a faster trainer made them affordable, after those
# five-seed results were seen. The rule history below records it.

# %%
stats = conditioning.claim_statistics(sweep.results, kappa_main)
switch = conditioning.switch_statistics(switched, sweep.history, kappa_main, off, on)
balanced = conditioning.balanced_condition_number(replace(spec, kappa_z=kappa_main))
instruments = {"condition number": controls.condition_number_control(),
               "matching accuracy": controls.matching_control(replace(spec, kappa_z=kappa_main), batch_size)}
decided = conditioning.decide(stats, switch, 2 * balanced, balanced, *instruments.values())
controls.control_table(instruments)

# %%
claims = ClaimSet("pair-conditioning", "abcdefg")
source = "Ren & Li 2023, abstract and Sec. 1 (two-stage dynamics)"
claims.add("a", "With negative pairs the condition number first grows while positive pairs align the views, "
           "then falls until the representation is balanced.", source, decided["a"])
claims.add("b", "Without negative pairs the representation does not balance: its condition number stays huge.",
           "this book: implied by Ren & Li 2023 (negatives balance the representation), but here it rests on the "
           "chapter's norm ball, which decides where an unbounded loss ends", decided["b"], origin="book")
claims.add("c", "The final condition number decreases monotonically as the weight of the negatives grows.",
           "this book: a dose-response over neg_weight, extending Ren & Li 2023 (negatives reduce the condition number)",
           decided["c"], origin="book")
claims.add("d", "Stage one: positive pairs align the views while the condition number grows.",
           "Ren & Li 2023, abstract (stage one)", decided["d"])
claims.add("e", "Stage two is the negatives' work: switched off at CLIP's peak the fall stops, and switched back "
           "on it restarts.", "Ren & Li 2023, abstract (stage two); the switch is this book's test", decided["e"])
claims.add("f", "With the negatives weighted inside the log-sum-exp (a bounded loss), the final condition number "
           "falls as their weight grows.", "this book: the bounded variant of claim c", decided["f"], origin="book")
claims.add("g", "A better-conditioned representation is more robust: across the sweep, the lower a model's final "
           "condition number, the better it matches images to captions in a world where only the weaker latent "
           "directions pair them.", "this book: the chapter's reading of why Ren & Li 2023 matters for robustness "
           "(the paper motivates balance by efficiency and runs no robustness experiment)", decided["g"], origin="book")

# %% tags=["nbval-check-output"]
claims.finish(enforce=enforce_claims, not_reproduced=not_reproduced, undecided=undecided)[SUMMARY]

# %% [markdown]
# **Rules changed after a result was seen** (what it was, what it is, why, and the commit):

# %%
claims.history_table()

# %% [markdown]
# ## What it means

# %% tags=["remove-cell"]
other_sets = records.stored("03_pair_conditioning")
prose.say(c_trend=stats["trend"], n_seeds=n_seeds, c_why=decided["c"].why or "decided",
          c_other_sets=records.cited(other_sets, "c"), c_recorded_at=records.recorded_at(other_sets),
          negatives=batch_size - 1, candidates=batch_size)
prose.say(digits=0, off_leap=switch["off_window"].mean, restart_fall=-switch["restart"].mean)
outside_main = at_main[at_main.negatives == "outside"]
prose.say(g_other_sets=records.cited(other_sets, "g"))
prose.say(digits=2, g_trend=stats["shift_trend"], chance=1 / batch_size,
          **prose.means(outside_main, "neg_weight", ["matching", "shifted_matching"], {1.0: "clip", 0.0: "positive"}),
          **prose.means(at_main[at_main.negatives == "inside"], "neg_weight", ["shifted_matching"],
                        {min(inside_weights, default=None): "weakest", max(inside_weights, default=None): "strongest"},
                        prefix="inside"))

# %% [markdown]
# The paper's two-stage picture reproduces in this linear setting. From a small initialization the
# positive pairs do all the early work: they align the two views within a few dozen steps and, since
# gradient descent grows each latent direction at a rate proportional to its variance, they learn
# the strong directions first and drive the condition number up by orders of magnitude (claim a,
# first half); by the peak the views are as aligned as they will ever be (claim d: alignment at
# the peak is already its final value). The negative pairs then stop the strong directions and let
# the weak ones catch up, one after another, until the representation is balanced to within the
# theory's tolerance (claim a, second half). Positive pairs alone, held to a norm budget, put the
# whole budget on the strongest direction: the views are just as aligned, but the representation
# has rank one and its condition number is astronomically larger (claim b, the book's: the norm
# budget, not the paper, decides where that unbounded loss ends).
#
# The switch (claim e) makes stage two causal rather than a correlation in time. Remove the
# negatives at CLIP's peak and the condition number does not fall at all: it leaps by about
# {glue:text}`off_leap` orders of magnitude, as the positive pairs alone pour the norm into the
# strongest direction. Put them back and it falls again at once, by about {glue:text}`restart_fall`
# orders of magnitude by the end of the run
# (from a far worse start than CLIP's, so it does not reach CLIP's balance within the budget).
#
# **Claim c is undecided.** We expected the final condition number to fall steadily as the
# negative pairs gain weight. In the anisotropic worlds it does not fall steadily: it stays huge for
# every weight below 1 (the table above) and drops only at 1, and among the small
# weights it is at most loosely ordered. The rule asks whether that ordering is steadier than
# halfway between chance and a steady fall (a rank correlation whose interval lies below -0.5),
# and {glue:text}`n_seeds` seeds cannot say: the rank correlation, {glue:text}`c_trend`, reaches
# both sides of -0.5. On the other seed sets (stored records, {glue:text}`c_recorded_at`)
# it measured {glue:text}`c_other_sets`; the statistic is fragile (the trainer's compiled loss, the
# same sums in another order, moved an earlier five-seed mean towards zero). The rule's diagnosis:
# {glue:text}`c_why`, more seeds than the chapter's five minutes hold. Under the book's
# earlier two-way rule this claim read "not reproduced"; it never ruled out the ordering the claim
# describes.
# The reason for the loose ordering is in the loss rather than in the statistics. For any weight
# $w < 1$ the loss is unbounded below: once a positive pair dominates its own softmax row,
# $-s_{ii} + w \log\sum_j e^{s_{ij}} \approx -(1 - w)\, s_{ii}$ keeps rewarding larger weights. So
# every such encoder ends on the norm ball (last column of the table: its parameters leave the
# ball, while CLIP's stay well inside it), and on the ball the cheapest way to raise the positive
# similarity is to give up the weak directions, which cost the most norm. Their condition numbers
# are then infinite in the theory's sense, and the measured values (how far the abandoned
# directions have decayed) carry little order. Only the full contrastive loss is bounded: with
# $w = 1$ the normalizer is never smaller than the pair's own term, so the loss is never negative.
# Before the run we expected otherwise: with infinitely many negatives the loss has a balanced
# optimum inside the ball for every $w > 1/\text{norm_budget}^2$. That approximation misses that
# with a finite batch the positive pair sits in its own denominator. The effective rank (table
# above) is the finer read-out: it never decreases as the weight grows (more directions survive
# with more negative weight), but it too is flat at one for the smallest weights; that is an
# observation made after the fact, not a test we set. The paper speaks of the positive and
# negative pairs of the full contrastive loss; the sweep of weights and the norm ball are this
# chapter's additions, asking how much of the negative pairs' work a partial weight buys. Here the
# answer is: weighted outside the log-sum-exp, in an anisotropic world, almost none.
#
# Weighted *inside* the log-sum-exp, the negatives behave as we expected ({numref}`fig-ch3-inside`):
# the loss stays bounded, and on every one of the {glue:text}`n_seeds` seeds the final condition number falls
# steadily with the weight (a rank correlation of exactly -1 each time): claim f reproduces, by
# the exact sign test, which decides where values have no spread. At five seeds it was undecided,
# as that test needs six; the two seeds that decide it were added after that result was seen (see
# the seeds paragraph above). So the loose ordering of claim c is a property of the unbounded
# family, not of weakened negatives as such: a partial weight in the bounded form buys a graded
# share of the balancing, here within the fixed budget of steps.
#
# **Balance goes with matching where only the weak directions pair (claim g, the book's).** Read as
# CLIP reads it, a representation's conditioning predicts how well it matches an image to its caption
# in the shifted world ({numref}`fig-ch3-matching`): the rank correlation is {glue:text}`g_trend`,
# below the rule's -0.5 (on the other seed sets, {glue:text}`g_other_sets`). CLIP's balanced models match {glue:text}`clip_shifted_matching` of the
# images there, the bounded variant's models {glue:text}`inside_strongest_shifted_matching` at its
# largest weight and {glue:text}`inside_weakest_shifted_matching` at its smallest,
# and the collapsed ones are at chance ({glue:text}`positive_shifted_matching` without negatives,
# chance {glue:text}`chance`). What the read-out does not show is robustness *beyond* accuracy: in the
# training world the same ordering holds ({glue:text}`clip_matching` for CLIP), and every model loses
# in the shifted world. So the test supports the chapter's motivation in its plain form (a balanced
# representation keeps the directions a shifted task needs, an ill-conditioned one has lost them) but
# is no test of effective robustness, which would ask whether conditioning buys shifted accuracy that
# training-world accuracy does not predict. The paper makes neither claim; both readings are this
# book's.
#
# Two departures from the paper's analysis are worth keeping in mind. We train with minibatch SGD
# on a finite training set with {glue:text}`negatives` in-batch negatives, where the theory is gradient flow on the
# population loss. Presumably that is why CLIP's final condition number settles somewhat above the
# theory's $\kappa^\ast$ (SGD noise, the finite batch and the finite sample each perturb the
# balanced solution; we have not separated them), still well within the tolerance. And the
# learning rate sets the time scale of the whole story: the weakest direction is learned at a rate
# $\tau\lambda_r = \tau/\kappa_z$, so the steps needed grow in proportion to $\kappa_z$, which is
# why the most anisotropic world of the default run is $\kappa_z = 100$.
#
# **Rerun it** with other parameters, e.g. a larger norm budget
# (`python -m clipbook run pair-conditioning -p norm_budget 10.0`) or more in-batch negatives
# (`-p batch_size 256`, slower on a CPU). The `paper` profile (`--profile paper`) runs a larger
# latent and views, 20 seeds, a finer sweep of weights and $\kappa_z$ up to 1000, for which it
# needs ten times the steps; a GPU is the place for it.
