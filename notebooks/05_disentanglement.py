# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   clipbook:
#     key_figure: fig-ch5-image-metrics
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Disentanglement and compositional generalization
#
# **The claim** {cite}`abbasi2024deciphering`: CLIP models differ in how well they recognize
# *compositions they never saw*: an attribute with an object it never had in training, although
# both were seen with other partners (compositional out-of-distribution generalization, C-OoD).
# The models that do this well are those whose image and text representations are
# *disentangled* with respect to attribute and object: each part has its own directions, which a
# new combination can reuse. Abbasi et al. trace the disentanglement to the training captions.
# Where attribute and object words vary independently (low normalized mutual information), the
# text embeddings factorize, and contrastive training passes that structure on to the images.
#
# The chapter builds the test in miniature. It trains families of tiny CLIPs that differ in one
# thing each, holds out compositions, and asks whether the families that generalize are the
# disentangled ones.

# %% tags=["parameters"]
n_seeds: int = 5  # independent seeds per family (hold-out, data draw and initialization) {min 2, max 1000}
first_seed: int = 5000  # seeds are first_seed, ..., first_seed + n_seeds - 1 (choose fresh ones to check a result) {min 0, max 1_000_000_000}
n_train: int = 4000  # training image-caption pairs per model {min 1, max 100000}
n_test: int = 480  # test images of the unseen compositions per model {min 16, max 50000}
reference_coverage: float = 0.75  # share of the 64 colour-shape compositions seen in training (the reference family) {above 0, below 1}
coverages: list[float] = [0.5]  # other coverages, one family each {above 0, below 1}
dependences: list[float] = [0.8]  # P(a shape shows its partner colour), one family each, at the reference coverage {min 0, max 1}
p_mentions: list[float] = [0.5]  # P(a caption mentions each attribute), one family each {min 0, max 1}
text_towers: list[str] = ["additive", "entangled"]  # frozen text towers, one family each ("learned" is the reference)
model: str = "tiny-vit"  # open_clip image tower (a registered tiny config)
vision_layers: int = 1  # transformer layers of the image tower {min 1, max 48}
text_layers: int = 1  # transformer layers of the learned text tower {min 1, max 48}
steps: int = 250  # optimizer steps, the same for every model {min 1, max 1_000_000}
batch_size: int = 128  # image-caption pairs per step {min 2, max 65536}
lr: float = 1e-3  # Adam learning rate {above 0}
log_every: int = 50  # steps between the checkpoints the text-tower comparison follows {min 1, max 1_000_000}
dci_trees: int = 10  # gradient-boosted trees per factor in DCI (disentanglement_lib uses 100) {min 1, max 1000}
imagenet_ao: str = ""  # folder of ImageNet-AO, one sub-folder per composition ("": skip the pretrained models) {input}
pretrained: list[str] = ["RN50:openai", "RN50:yfcc15m", "RN50:cc12m", "ViT-B-32:openai", "ViT-B-32:laion2b_s34b_b79k", "ViT-B-32:datacomp_m_s128m_b4k", "ViT-B-32:commonpool_s_s13m_b4k", "ViT-L-14:openai"]  # open_clip NAME:TAG (or NAME:/path/to/weights) read out on ImageNet-AO
pretrained_prompts: str = "openai"  # zero-shot prompts for the pretrained models: CLIP's 80 ImageNet templates, or "simple"
enforce_claims: bool = True  # fail the run when a verdict differs from the text (other runs than the default report only)
not_reproduced: list[str] = []  # the claims this run's text reports as not reproduced
undecided: list[str] = ["b", "c", "d", "e", "f", "g", "h"]  # the claims this run's text reports as undecided

# %% tags=["remove-cell"]
# The values a run gives (the runner, or plain papermill) checked against the cell above.
from clipbook import check_parameters

check_parameters("05_disentanglement", globals())

# %%
import matplotlib.pyplot as plt
import pandas as pd

from clipbook import ClaimSet, SUMMARY, TrainConfig, ci_table, controls, mean_ci, plots, prose, records
from clipbook.data import CompositionWorld, training_pairs, unseen_compositions
from clipbook.experiments import disentanglement, disentanglement_real

plots.set_style()
world = CompositionWorld(n_train=n_train, n_test=n_test)
if imagenet_ao:  # a missing or misnamed folder, or a malformed model name, fails here, before any compute
    disentanglement_real.check_inputs(imagenet_ao, pretrained, pretrained_prompts)

# %% [markdown]
# ## Compositions never seen
#
# Each image shows one object: a *shape* (the object: circle, square, ... eight of them) in a
# *colour* (the attribute, eight of them), with a *size* and a *texture*, on a background, at a
# position, slightly rotated. Captions are templates around the noun phrase: "a photo of a large
# red striped circle."
#
# The colour-shape grid has 64 compositions. Training sees a share `coverage` of them. The rest
# are held out in whole diagonals of the grid (a Latin square), so that every colour and every
# shape loses the same number of partners and stays as frequent as the others. The test images
# show only held-out compositions, and the hold-out is redrawn with each seed. Zero-shot
# classification among the unseen compositions, with CLIP's prompt ensembles ("a photo of a red
# circle.", "a sketch of a red circle.", ...), is the C-OoD accuracy. Attribute and object
# accuracy read the colour and shape of the predicted composition.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Top: training images of the reference family (seen compositions). Bottom: test images of the same seed, every one a colour-shape composition that training never showed.", "name": "fig-ch5-samples"}, "image": {"alt": "Two rows of ten small rendered shapes: seen colour-shape compositions above, unseen ones below."}}
sample_train = training_pairs(world, reference_coverage, 0.0, 1.0, first_seed)
sample_test = unseen_compositions(world, reference_coverage, first_seed)
plots.image_grid({"seen (train)": sample_train.images, "unseen (test)": sample_test.images}, n=10)
plt.show()
print("\n".join(sample_train.captions[:3]))

# %% [markdown]
# ## Families that differ in one thing
#
# Every model is the same tiny open_clip ViT, trained from scratch for the same steps on the same
# number of pairs. The *reference* family learns its text tower on captions that mention every
# attribute, at `reference_coverage`, with colour and shape drawn independently. Each other
# family changes one thing:
#
# | family | what changes | what it should do to disentanglement |
# |---|---|---|
# | coverage | fewer seen compositions | less evidence that colour and shape vary apart |
# | dependent pairs | each shape shows one partner colour most of the time, at the *same* coverage | higher caption NMI: the words co-vary |
# | captions | each attribute mentioned only with probability `p_mention` | less supervision for the attributes |
# | frozen additive text | the text tower is fixed: a random vector per colour plus one per shape | perfectly disentangled text |
# | frozen entangled text | the text tower is fixed: an unrelated random vector per colour-shape pair | maximally entangled text |
#
# The two frozen towers carry the same information (which composition a caption names) and
# differ only in its structure. They make Abbasi et al.'s argument a controlled experiment: if
# disentangled text is what makes image embeddings disentangle, the additive tower's images
# should be the more disentangled. The same seed draws the same hold-out, scenes and initial image
# tower in every family, so families are compared seed by seed.

# %%
runs = disentanglement.settings(reference_coverage, coverages, dependences, p_mentions, text_towers)
config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, log_every=log_every)
seeds = range(first_seed, first_seed + n_seeds)
sweep = disentanglement.run_sweep(world, runs, seeds, config, model_name=model, vision_layers=vision_layers,
                                  text_layers=text_layers, dci_trees=dci_trees)
results, history = sweep.results, sweep.history
palette = plots.category_palette(results.family)
print(f"{len(results)} models trained and measured in {sweep.seconds:.0f} s")
accuracies = results.melt(["family", "seed"], ["composition", "attribute", "object", "caption_nmi"], var_name="measure")
table = ci_table(accuracies, "family", "measure", "value", bounds=(0, 1))
table[["composition", "attribute", "object", "caption_nmi", "seeds"]].rename(columns={"caption_nmi": "caption NMI"})

# %% [markdown]
# ## C-OoD accuracy per family

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Zero-shot accuracy on the unseen compositions, per family (mean and 95% interval over seeds): the composition, and the colour and shape of the predicted composition. Chance for the composition is one over the number of unseen compositions (dotted line, reference coverage). Look at which families generalize and which do not.", "name": "fig-ch5-accuracy"}}
fig, ax = plt.subplots(figsize=(8, 3.8))
plots.points_with_ci(results.melt(["family", "seed"], ["composition", "attribute", "object"], var_name="read-out"),
                     "family", "value", "read-out", ax=ax, ylabel="accuracy on unseen compositions")
ax.axhline(results[results.family == disentanglement.REFERENCE].chance.iloc[0], color="0.3", ls=":", lw=1)
ax.tick_params(axis="x", labelrotation=20)
ax.legend(title="read-out", frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
plt.show()

# %% [markdown]
# ## Disentanglement against C-OoD accuracy
#
# Every metric is computed on the unseen compositions' embeddings with two factors, colour and
# shape (`clipbook.evaluate.disentanglement`, defined as in disentanglement_lib and Carbonneau et
# al.). The image side embeds the test images; the text side embeds every prompt of every unseen
# composition. {numref}`fig-ch5-image-metrics` plots the five metrics Abbasi et al. report
# against C-OoD accuracy, one point per model; the titles give Spearman's rho over all models
# with a bootstrap 95% interval. DCI uses `dci_trees` boosted trees per factor (a CPU's budget;
# disentanglement_lib uses 100).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Image-embedding disentanglement (five metrics, computed on the unseen compositions) against C-OoD accuracy, one point per model and seed, coloured by family. Title: Spearman's rho over all models with its 95% bootstrap interval. A metric that predicts compositional generalization rises from left to right.", "name": "fig-ch5-image-metrics"}}
image_rho = disentanglement.correlations(results, "image", disentanglement.PAPER_METRICS)
plots.metric_scatter(results, [f"image_{m}" for m in disentanglement.PAPER_METRICS], "composition", "family",
                     image_rho, palette=palette, titles=list(disentanglement.PAPER_METRICS))
plt.show()

# %% tags=["hide-input"] mystnb={"image": {"alt": "Five scatter plots of text-embedding disentanglement metrics against C-OoD accuracy, one point per model."}, "figure": {"caption": "The same for the text embeddings of the unseen compositions' prompts. The frozen towers' text embeddings are fixed by construction: additive is disentangled, entangled is not.", "name": "fig-ch5-text-metrics"}}
text_rho = disentanglement.correlations(results, "text", disentanglement.PAPER_METRICS)
plots.metric_scatter(results, [f"text_{m}" for m in disentanglement.PAPER_METRICS], "composition", "family",
                     text_rho, palette=palette, titles=list(disentanglement.PAPER_METRICS))
plt.show()

# %% [markdown]
# Every metric of the library, for both embeddings, with the chance-rescaled scores (0 at
# chance, 1 at the maximum) and the effective rank (RankMe):

# %%
ALL_METRICS = ["z_diff", "z_diff_rescaled", "dci_disentanglement", "dci_completeness", "informativeness",
               "informativeness_rescaled", "mig", "sap", "modularity", "explicitness", "explicitness_rescaled",
               "dcimig", "rankme"]
all_rho = [disentanglement.correlations(results, side, ALL_METRICS) for side in ("image", "text")]
pd.concat(all_rho).pivot(index="metric", columns="embedding", values="rho").loc[ALL_METRICS].round(2)

# %% [markdown]
# ## Coverage, the confound
#
# Fewer seen compositions mean less accuracy *and* (plausibly) less disentanglement, so a
# correlation over families that differ in coverage could be coverage alone. The
# same correlations over the models at the reference coverage only (every family but the
# coverage ones) take coverage out:

# %%
fixed = results[results.coverage == reference_coverage]
fixed_rho = disentanglement.correlations(fixed, "image", disentanglement.PAPER_METRICS)
fixed_rho.round(3)

# %% [markdown]
# ## Caption statistics: dependent words
#
# At the same coverage, the *dependent pairs* families show each shape with one partner colour
# most of the time. Their captions' normalized mutual information (NMI) between colour and shape
# words is higher; every composition the reference sees is still seen. Abbasi et al. relate low
# NMI to good C-OoD generalization. {numref}`fig-ch5-nmi` places every family by its caption NMI.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Caption NMI between colour and shape words in each family's training captions against C-OoD accuracy (mean and 95% interval over seeds per family). Coverage raises NMI too: fewer partners per word.", "name": "fig-ch5-nmi"}}
fig, ax = plt.subplots(figsize=(6.5, 4))
for family, group in results.groupby("family"):
    x, y = mean_ci(group.caption_nmi), mean_ci(group.composition)
    ax.errorbar(x.mean, y.mean, xerr=[[x.mean - x.lo], [x.hi - x.mean]], yerr=[[y.mean - y.lo], [y.hi - y.mean]],
                fmt="o", capsize=3, color=palette[family], label=family)
ax.set(xlabel="caption NMI (colour, shape)", ylabel="C-OoD accuracy")
ax.legend(frameon=False, fontsize="x-small", loc="upper left", bbox_to_anchor=(1, 1))
plt.show()

# %% [markdown]
# ## Does disentangled text make disentangled images?
#
# The learned and the two frozen text towers, followed through training: C-OoD accuracy and the
# image embeddings' Z-diff at every checkpoint (step 0 is the untrained image tower).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The text-tower comparison over training (mean and 95% band over seeds): C-OoD accuracy (left) and image Z-diff on the unseen compositions (right), for the learned, the frozen additive and the frozen entangled text tower.", "name": "fig-ch5-towers"}}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for ax, metric, label in zip(axes, ["composition", "z_diff"], ["C-OoD accuracy", "image Z-diff"]):
    plots.lines_with_ci(history[history.metric == metric], "step", "value", "family", ax=ax, ylabel=label,
                        palette=palette)
axes[0].get_legend().remove()
axes[1].legend(frameon=False, fontsize="x-small", loc="upper left", bbox_to_anchor=(1, 1))
plt.show()

# %% [markdown]
# ## Embedding arithmetic
#
# If colour has its own direction, then an image of a seen composition (a1, o), minus the text
# "a photo of a a1 object.", plus "a photo of a a2 object.", should land nearest to the unseen
# composition (a2, o) among the unseen compositions' zero-shot embeddings. The rate at which it
# does, per family:

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Top-1 rate of embedding arithmetic (image of a seen composition - text of its colour + text of another colour) retrieving the unseen composition, per family (mean and 95% interval over seeds). Chance is one over the number of unseen compositions.", "name": "fig-ch5-arithmetic"}}
fig, ax = plt.subplots(figsize=(8, 3.4))
plots.points_with_ci(results.assign(measure="arithmetic"), "family", "retrieval", "measure", ax=ax,
                     ylabel="top-1 retrieval", palette={"arithmetic": "0.2"})
ax.get_legend().remove()
ax.tick_params(axis="x", labelrotation=20)
plt.show()

# %% [markdown]
# ## Pretrained CLIPs on ImageNet-AO
#
# Abbasi et al. read out about eighty pretrained open_clip models on ImageNet-AO, images of
# attribute-object compositions that no training caption of those models contains. With
# `imagenet_ao` naming a folder of it (one sub-folder per composition, `<attribute>_<object>`)
# and the weights at hand (`pretrained`, open_clip `NAME:TAG` or `NAME:/path/to/weights`), the
# chapter reads each model out as it reads its own: zero-shot accuracy among the compositions,
# object top-1 among the object names, and the metrics of both embeddings. The authors' own
# object top-1 on their images stands beside each model they report. Weights are never
# downloaded offline; a missing tag stops the run with a message saying how to provide it. The
# published page shows the authors' figures only: there are no weights or ImageNet-AO images here.

# %%
if imagenet_ao:
    pretrained_results = disentanglement_real.evaluate_pretrained(imagenet_ao, pretrained, templates=pretrained_prompts,
                                                                  dci_trees=dci_trees)
    display(pretrained_results.set_index("model").round(3))
else:
    print("imagenet_ao is empty: no pretrained model is read out in this run. The authors' object top-1:")
    display(pd.Series(disentanglement_real.AUTHORS_OBJECT_TOP1, name="object top-1 (Abbasi et al.)").to_frame())

# %% [markdown]
# ## Claims
#
# Each claim is decided by a rule stated before the run, in the book's three-way form
# ({doc}`../deciding`), with the power of its design beside the verdict. The paper reports no
# effect sizes for its factors, so the smallest effects of interest are the chapter's: five points
# of C-OoD accuracy (about one chance level of the 16 unseen compositions), a rank correlation of
# 0.3, a tenth of a metric's range.
#
# - (a) "Varying levels of C-OoD generalization across CLIP models": the families that learn
#   their text tower (they differ in their training data) differ in C-OoD accuracy
#   (Kruskal-Wallis p < 0.05; a test of difference that finds none leaves the claim undecided,
#   since it cannot show the absence of a difference), and the reference family is above chance.
# - (b), (c) Disentanglement "plays a crucial role": over all models, Spearman's rho of C-OoD
#   accuracy with each of the paper's five metrics (Z-diff, DCI informativeness and
#   completeness, explicitness, DCIMIG) has a bootstrap 95% interval above 0 for at least three
#   of the five, on the image (b) and the text (c) embeddings.
# - (d) *This book's* control for the coverage confound: the rule of (b) over the models at the
#   reference coverage only.
# - (e) Independent attribute and object words (low caption NMI) give better C-OoD
#   generalization: at the same coverage, the reference family minus the most dependent family,
#   paired by seed, has a 95% interval above 0.
# - (f) Disentangled text induces disentangled images: frozen additive minus frozen entangled
#   text, paired by seed, has a 95% interval above 0 for C-OoD accuracy and for at least three
#   of the five image metrics.
# - (g) The intrinsic dimension of the representations falls as C-OoD accuracy rises: Spearman's
#   rho of the image embeddings' effective rank (RankMe, our estimator of dimension) with C-OoD
#   accuracy has a 95% interval below 0.
# - (h) Image Z-diff rises during training: the reference family's last-step minus step-0 image
#   Z-diff has a 95% interval above 0.
#
# **The instruments first.** A metric can only show that disentanglement goes with C-OoD accuracy if
# it can tell a disentangled code from an entangled one. Each metric is first read on codes of
# known structure, built for this run's own test rows (the unseen compositions at the reference
# coverage) in the embedding's dimensions: *additive* codes (a vector per colour in half of the
# dimensions plus one per shape in the other half, disentangled by construction), *entangled* codes
# (a random vector per composition), and codes half way between. A metric passes when it scores
# the additive codes at least 0.1 above the entangled ones, the half-mixed codes in between (the
# rule was set before this control first ran). Claims b, c, d and f count only the metrics that
# pass; with fewer than three, they are *undecided (instrument)*. Claim g reads the effective rank,
# checked on codes of rank 1 to 64, and claim h reads Z-diff.
#
# **Seeds.** Five per family, from 5000 onwards: a seed set first run after these rules were
# written.

# %%
instruments, control_scores = disentanglement.metric_controls(world, reference_coverage, first_seed, model,
                                                               dci_trees)
control_scores.round(3)

# %%
controls.control_table(instruments)

# %%
decided = disentanglement.decide(results, history, reference_coverage, runs, instruments)
claims = ClaimSet("disentanglement", "abcdefgh")
source = "Abbasi et al. 2024"
claims.add("a", "CLIP models trained on different data differ in compositional OOD accuracy.",
           f"{source}, abstract and Sec. 4", decided["a"])
claims.add("b", "More disentangled image representations go with higher C-OoD accuracy.", f"{source}, Sec. 5",
           decided["b"])
claims.add("c", "More disentangled text representations go with higher C-OoD accuracy.", f"{source}, Sec. 5",
           decided["c"])
claims.add("d", "At fixed coverage, more disentangled images still go with higher C-OoD accuracy.",
           "this book (coverage confound)", decided["d"], origin="book")
claims.add("e", "Captions whose attribute and object vary independently (lower NMI) give better C-OoD accuracy.",
           f"{source}, Sec. 5", decided["e"])
claims.add("f", "Disentangled text induces disentangled images under contrastive training.", f"{source}, Sec. 5",
           decided["f"])
claims.add("g", "The representations' intrinsic dimension falls as C-OoD accuracy rises.", f"{source}, Sec. 5",
           decided["g"])
claims.add("h", "Image Z-diff rises during contrastive training.", f"{source}, Sec. 5", decided["h"])

# %% tags=["nbval-check-output"]
claims.finish(enforce=enforce_claims, not_reproduced=not_reproduced, undecided=undecided)[SUMMARY]

# %% [markdown]
# **Rules changed after a result was seen** (what it was, what it is, why, and the commit):

# %%
claims.history_table()

# %% [markdown]
# ## What it means

# %% tags=["remove-cell"]
named = {f"frozen {t} text": f"{t}_text" for t in text_towers if t != "learned"}
for knob, pick, name in (("coverage", min, "low_coverage"), ("dependence", max, "dependent"),
                         ("p_mention", min, "sparse")):
    varied = [r for r in runs if getattr(r, knob) != getattr(runs[0], knob)]  # runs[0] is the reference
    named |= {pick(varied, key=lambda r: getattr(r, knob)).family: name} if varied else {}
prose.say(digits=2, chance=float(results.chance.iloc[0]), **prose.means(results, "family", ["composition"], named))
prose.say(**{f"codes_{m}": ", ".join(f"{v:.2f}" for v in control_scores.loc[m]) for m in disentanglement.PAPER_METRICS},
          passing=", ".join(m for m in disentanglement.PAPER_METRICS if instruments[m].passed) or "none",
          n_failed=sum(not instruments[m].passed for m in disentanglement.PAPER_METRICS))

# %% tags=["remove-cell"]
ev, other_sets = prose.evidence, records.stored("05_disentanglement")
_, p_families = disentanglement.family_differences(disentanglement.learned_text(results))
prose.say(seed_range=prose.seed_range(first_seed, n_seeds), p_families=f"{p_families:.3f}",
          reference=ev(decided["a"], "CI of the reference's C-OoD accuracy"), e_gap=ev(decided["e"]),
          e_why=decided["e"].why or "decided", e_other_sets=records.cited(other_sets, "e"),
          e_recorded_at=records.recorded_at(other_sets), dcimig_all=ev(decided["b"], "dcimig"),
          dcimig_fixed=ev(decided["d"], "dcimig"), dcimig_frozen=ev(decided["f"], "dcimig"),
          frozen_gap=ev(decided["f"], "CI of the paired difference in C-OoD accuracy"), rank=ev(decided["g"]),
          z_rise=ev(decided["h"]))

# %% [markdown]
# **One of the paper's claims reproduces here (a); the others are undecided, and for most of them
# the reason is the instruments, not the seeds.** The numbers below are the default run's (seeds
# {glue:text}`seed_range`, a set first run after these rules were written).
#
# *What holds.* The models differ (a): Kruskal-Wallis p = {glue:text}`p_families` over the
# families that learn their text tower, and the reference family's C-OoD accuracy,
# {glue:text}`reference`, is far above chance ({glue:text}`chance`). Coverage is the data knob
# that matters most: with the fewest compositions seen, C-OoD accuracy falls to
# {glue:text}`low_coverage_composition`. Dependent pairs and sparse captions cost a few points
# ({glue:text}`dependent_composition` and {glue:text}`sparse_composition`).
#
# *The instruments.* Of the paper's five metrics, only these tell codes of known structure apart in
# this world (the controls table above): {glue:text}`passing`. On additive, half-mixed and
# entangled codes, Z-diff scores {glue:text}`codes_z_diff`, explicitness
# {glue:text}`codes_explicitness`, informativeness {glue:text}`codes_informativeness`, DCI
# completeness {glue:text}`codes_dci_completeness` and DCIMIG {glue:text}`codes_dcimig`. A metric
# that cannot tell an entangled code from a disentangled one cannot show that disentanglement goes
# with C-OoD accuracy, so claims b, c, d and f, each resting on at least three of the five metrics,
# are **undecided (instrument)**: the earlier two-way rules reported them as not reproduced, which
# measured the metrics' failure rather than the paper's relation. Why the metrics fail here: with
# two factors and 16 unseen compositions, Z-diff's classifier tells which factor a batch of pairs
# shares from almost any embedding, and the probes behind informativeness and explicitness are
# trained and tested on the same unseen compositions, so any embedding that keeps compositions
# apart lets them read off colour and shape (decodability, not factorization).
#
# What the one validated metric shows, as a reading and not a verdict: over all models, image
# DCIMIG does not follow C-OoD accuracy (rho {glue:text}`dcimig_all`); at fixed coverage it may
# ({glue:text}`dcimig_fixed`); and the two frozen text towers leave the images' DCIMIG the same
# (a difference of {glue:text}`dcimig_frozen`), although their C-OoD accuracies differ by
# {glue:text}`frozen_gap` ({glue:text}`additive_text_composition` against {glue:text}`entangled_text_composition`, at
# chance for the entangled tower). The entangled tower's prompt of an unseen composition is a
# random vector that no image was ever trained towards, so no image embedding lands near it: the
# text side must compose as well. Whether the image side must be disentangled is what these
# instruments cannot say.
#
# *Undecided for want of seeds.* Caption NMI (e) points the paper's way: at the same coverage,
# captions with independent words beat dependent ones by {glue:text}`e_gap` ({glue:text}`e_why`).
# On the other seed sets (stored records, {glue:text}`e_recorded_at`) it measured
# {glue:text}`e_other_sets`. The effective rank (g), whose control passed, also points the
# paper's way, rho {glue:text}`rank`.
#
# *Undecided for its instrument.* Image Z-diff rises during training (h), by {glue:text}`z_rise`,
# from chance in the untrained tower to the top of its scale; but Z-diff gives the same top score
# to entangled codes, so the rise shows the metric saturating, not the image embedding
# disentangling.
#
# So the paper's observation, that compositional generalization varies across models, holds in
# miniature. Its explanation, disentangled representations measured by these metrics, cannot be
# tested at this scale: {glue:text}`n_failed` of the five metrics fail a control with a built-in answer. The
# controlled experiment the book adds, two frozen text towers, points at the text side's
# compositionality. Whether the metrics separate models at the paper's scale (80 pretrained models,
# thousands of compositions) is what the `paper` profile asks, with the pretrained models on
# ImageNet-AO. It needs the weights and the images, and we have not run it.
