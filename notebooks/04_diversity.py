# ---
# jupyter:
#   clipbook:
#     key_figure: fig-ch4-factors
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: clipbook
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Diversity of the training distribution
#
# **The claim** {cite}`fang2022data`: CLIP differs from a supervised ImageNet model in at least
# five ways that could explain its robustness to distribution shift: (i) a larger training set,
# (ii) a different, more diverse training distribution, (iii) language supervision at training
# time, (iv) language supervision at test time (the zero-shot head built from prompts), and (v)
# the contrastive loss. Switched on one at a time, only the training distribution matters: "the
# more diverse training distribution is the main cause for the robustness gains, with the other
# factors contributing little to no robustness."
#
# Robustness here is *effective robustness* {cite}`taori2020measuring`. Models trained on one
# distribution and tested on a shifted one lie, across architectures and training recipes, on a
# line once both accuracies are logit-transformed. A model's effective robustness (ER) is how far
# above that line it lies: its out-of-distribution (OOD) accuracy minus what the line predicts
# from its in-distribution (ID) accuracy. Being more accurate everywhere is not enough to have
# ER; being *less hurt by the shift than your ID accuracy predicts* is.

# %% tags=["parameters"]
n_seeds: int = 5  # independent seeds per model (data draw and initialization) {min 2, max 1000}
first_seed: int = 5000  # seeds are first_seed, ..., first_seed + n_seeds - 1 (choose fresh ones to check a result) {min 0, max 1_000_000_000}
n_train: int = 4000  # training images per model (the full size) {min 1, max 100000}
n_test: int = 500  # images per test set {min 1, max 50000}
size_fractions: list[float] = [0.5, 1.0]  # training set sizes, as fractions of n_train (factor i) {above 0, max 1, non-empty}
diverse_fractions: list[float] = [0.0, 1.0]  # share of diverse images in the training set (factor ii) {min 0, max 1, non-empty}
left_out_per_seed: int = 1  # leave-one-style-out CLIPs per seed, the covered styles taken in turn {min 0, max 3}
model: str = "tiny-rn"  # open_clip image tower (a registered tiny config, or any open_clip name)
text_layers: int = 1  # layers of the text tower {min 1, max 48}
steps: int = 360  # optimizer steps, the same for every model (SimCLR's fine-tuning included) {min 1, max 1_000_000}
pretrain_steps: int = 200  # SimCLR's image-only pre-training steps before its fine-tuning {min 1, max 1_000_000}
batch_size: int = 128  # images (and captions) per step {min 2, max 65536}
lr: float = 2e-3  # Adam's peak learning rate (cosine schedule) {above 0}
warmup: int = 40  # linear warm-up steps of the schedule {min 0, max 1_000_000}
log_every: int = 50  # steps between measured checkpoints of every model {min 1, max 1_000_000}
baseline_log_every: int = 25  # steps between checkpoints of the supervised baseline models {min 1, max 1_000_000}
margin: float = 0.05  # equivalence margin of the contributes-little claims, in effective robustness {above 0}
real_data: str = ""  # folder of ImageNet-Captions and the ImageNet test sets ("": skip the real-data experiment) {input}
real_out: str = "runs/imagenet-captions"  # where the real-data experiment keeps checkpoints and accuracies {output}
real_model: str = "RN50"  # open_clip architecture of the real-data experiment
real_epochs: int = 32  # epochs over ImageNet-Captions, for CLIP and the supervised model alike {min 1, max 1000}
real_batch_size: int = 256  # images per GPU and step {min 1, max 65536}
real_gpus: int = 0  # GPUs for open_clip_train under torchrun (0: one plain process) {min 0, max 64}
real_warmup: int = 2000  # learning-rate warm-up steps {min 0, max 1_000_000}
real_workers: int = 8  # DataLoader processes decoding images {min 0, max 256}
real_prompts: str = "openai"  # zero-shot prompts: CLIP's 80 ImageNet templates, or "simple" (7 of them)
real_diverse_pairs: str = ""  # optional open_clip CSV of diverse web pairs (a YFCC, CC or LAION subset) {input}
enforce_claims: bool = True  # fail the run when a verdict differs from the text (other runs than the default report only)
not_reproduced: list[str] = []  # the claims this run's text reports as not reproduced
undecided: list[str] = ["c", "f", "h"]  # the claims this run's text reports as undecided

# %% tags=["remove-cell"]
# The values a run gives (the runner, or plain papermill) checked against the cell above.
from clipbook import check_parameters

check_parameters("04_diversity", globals())

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from clipbook import ClaimSet, SUMMARY, TrainConfig, ci_table, controls, plots, prose, records
from clipbook.data import DiversityWorld, make_shapes, test_sets
from clipbook.evaluate import equivalence_power
from clipbook.experiments import diversity, diversity_real
from clipbook.learners import imagenet_runs

plots.set_style()
world = DiversityWorld(n_train=n_train, n_test=n_test)
if real_data:  # missing or malformed real data fail here, before any compute
    diversity_real.locate(real_data, diverse_pairs=real_diverse_pairs or None)

# %% [markdown]
# ## An ImageNet and a web in miniature
#
# Ten shape classes (circle, square, triangle, ...) in eight colours, two sizes, two textures.
# The *narrow* training distribution plays ImageNet: photo-like renderings on two plain
# backgrounds. The *diverse* one plays the web: the same kind of scenes as photos, pencil sketches,
# cartoons and blurred, noisy photos, on every background. The test sets play ImageNet's
# shifts: the narrow distribution's own test images (ID) and four shifted sets, one per drawing
# style (sketch for ImageNet-Sketch, edge maps and cartoons for the renditions of ImageNet-R,
# blur and noise for a corruption), each on every background. Edge maps never occur in training,
# whatever the distribution: they are the one truly unseen shift. All test sets show the same
# scenes, so they differ only in how the scenes are drawn ({numref}`fig-ch4-samples`).
#
# Captions are web-like: a title with a filler word and a description. They say what the object
# looks like (each of colour, size and texture in a fifth of them) and name its class in
# {glue:text}`class_named` of them; they never say how the image is drawn or on what background. Objects sit in the centre of
# the image so that the small towers learn the shapes within a CPU budget.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The first eight images of each training distribution and test set (same seed, so the same scenes in every row but the diverse one, which mixes styles). Top two rows: what the models train on. The other rows: the ID test set and the four shifted test sets the OOD accuracy averages over.", "name": "fig-ch4-samples"}}
tests = test_sets(world)
diverse_sample = make_shapes(world.diverse(seed=0, n=8)).images
narrow_sample = make_shapes(world.narrow(seed=0, n=8)).images
plots.image_grid({"narrow (train)": narrow_sample, "diverse (train)": diverse_sample,
                  **{f"{name} (test)": data.images for name, data in tests.items()}})
plt.show()

# %% [markdown]
# ## One factor at a time, as the paper tested each
#
# Every model is the same open_clip image tower (a ResNet at width 8), trained from scratch with
# the same optimizer, schedule and number of steps. What changes is one factor, switched the way
# Fang et al. switched it:
#
# | factor | with it | without it | the paper's test |
# |---|---|---|---|
# | (i) training set size | CLIP on the whole diverse set | CLIP on half of it | subsampling changes accuracy, not ER (Sec. 2, after Taori et al. and Miller et al.) |
# | (ii) training distribution | CLIP on the diverse set | CLIP on the narrow set | the headline claim |
# | (iii) language at training time | CLIP on the narrow set | a supervised classifier on the same images | CLIP and a supervised model on ImageNet-Captions (Sec. 4) |
# | (iv) language at test time | CLIP (diverse), zero-shot head from prompt templates | the same CLIP, head from the bare class names | prompts change accuracy, not ER |
# | (v) contrastive loss | CLIP on the diverse set | cross-entropy on the diverse images whose captions name exactly one class, labelled by that name | YFCC-15M-Cls, a classifier on labels read off captions |
# | (iii) and (v) together | CLIP on the diverse set | SimCLR pre-trained on all diverse images (no language), then fine-tuned on those caption labels | the paper's central evidence: SimCLR on YFCC-15M, fine-tuned on YFCC-15M-Cls, is as robust as CLIP |
#
# SimCLR learns from two random views of each image (position, zoom, mirror image, brightness,
# contrast, colour channels, grey; no rotation, which would turn a square into a diamond), with
# open_clip's contrastive loss between the views. The supervised classifier is the image tower
# with a head of normalized class prototypes and a learned temperature, the same form as CLIP's
# zero-shot head. It is also the *baseline*: its checkpoints every `baseline_log_every` steps,
# for every seed, are the ImageNet models that define the line, from near chance to convergence.
# The linear probe on CLIP's features is a second reading of (iv).
#
# **Diversity or coverage?** The diverse set contains three of the four test styles, so "diversity
# helps" could just mean "seeing the test style helps". A leave-one-style-out arm trains, at each
# seed, CLIP on the diverse set without one of the covered styles (sketch, cartoon, noisy, in turn
# over seeds; `left_out_per_seed` 3 trains all three). Its ER on the style it never saw is
# compared with the full diverse CLIP's (coverage) and the narrow CLIP's (what diversity buys
# without coverage).

# %% [markdown]
# ## How effects are read, and the decision rules (written before the run)
#
# **At matched accuracy.** ER is meant not to depend on ID accuracy, but along one model's
# training it does, and models that end at different accuracies would mix the factor with
# accuracy. So every comparison is read where the two models had the *same* ID accuracy: the
# lower of their two final accuracies, each model read at the checkpoint where it first reached it
# (linear in logit(ID) between checkpoints). A seed where a model was already past that accuracy
# at its first checkpoint has no matched reading: it is a missing value, and a comparison with a
# missing value is undecided (it used to drop out; the claims table's rule history says when and
# why this changed). The paper's own reading, ER at the last checkpoints, is shown beside it.
# Every effect is paired by seed (the same seed draws the same scenes and the same initial weights).
#
# **The rules.** Intervals are Student-t over seeds.
# - (ii) "main cause" (claim a): the distribution's matched effect has a 95% interval above
#   {glue:text}`main_floor` (three points of OOD accuracy); it is *not reproduced* only if the interval lies wholly below
#   `margin`, the smallest effect a main cause could have and still exceed what "little" allows.
# - (i), (iii), (iv), (v), and (iii) with (v) ("contributing little", claims b to f): equivalence
#   within `margin` ({glue:text}`margin`: five points of OOD accuracy) by two one-sided tests at 5%, that is,
#   the effect's 90% interval lies inside plus or minus the margin. An interval wholly outside the
#   margin is *not reproduced*; one that straddles a bound is *undecided*, because the seeds are
#   too few to tell. The size test also needs both CLIPs well above chance (the smaller one's mean
#   final ID accuracy at least {glue:text}`size_floor`, three times chance), or it tests nothing and is undecided.
# - Coverage (claims g and h, this book's): ER on a style with it in the diverse training set
#   minus without it, and without it minus the narrow CLIP, each decided like claim a.
#
# **Power.** With a margin of {glue:text}`margin`, the equivalence tests need between-seed spreads well below the
# margin. Two pilot seeds (100 and 101, not among the chapter's seeds) had standard deviations of
# the matched effects from 0.008 (size) to 0.065 (contrastive loss); the table gives each
# equivalence test's chance to confirm a true zero effect at this run's seeds, for spreads in
# that range. Where it is low, an undecided verdict is the expected outcome, not a failure.

# %%
spreads = [0.01, 0.02, 0.04, 0.065]
pd.DataFrame({"seeds": n_seeds, **{f"sd {sd}": [round(equivalence_power(sd, n_seeds, margin), 2)] for sd in spreads}},
             index=["chance to confirm a zero effect"])

# %%
runs = diversity.settings(diverse_fractions, size_fractions)
config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, log_every=log_every, schedule="cosine",
                     warmup=warmup)
seeds = range(first_seed, first_seed + n_seeds)
sweep = diversity.run_sweep(world, runs, seeds, config, left_out_per_seed=left_out_per_seed, model_name=model,
                            text_layers=text_layers, pretrain_steps=pretrain_steps,
                            baseline_log_every=baseline_log_every)
results, line = diversity.with_effective_robustness(sweep.results, world.shift_styles)
results = results.assign(model=diversity.model_names(results)).sort_values(["model", "seed", "step"], kind="stable")
palette = plots.category_palette(results.model)  # one colour per model in every figure
print(f"{results.groupby(['model', 'seed']).ngroups} models trained in {sweep.seconds:.0f} s; "
      f"baseline: logit(OOD) = {line.slope:.2f} logit(ID) + {line.intercept:.2f}")
final = diversity.final(results)
accuracies = final.melt(["model", "seed"], ["id_accuracy", "ood_accuracy"], var_name="test", value_name="accuracy")
ci_table(accuracies, "model", "test", "accuracy", bounds=(0, 1)).rename(
    columns={"id_accuracy": "ID accuracy", "ood_accuracy": "OOD accuracy (mean over shifts)"})

# %% [markdown]
# Are the compared models comparable? The final ID accuracies of each pair that differs in
# language or loss, on the same images (mean over seeds):

# %%
diversity.accuracy_gaps(final)

# %% [markdown]
# ## The line and the models off it
#
# {numref}`fig-ch4-line` is the signature figure of effective robustness. The supervised
# checkpoints trace the baseline; the other models are shown at every checkpoint too (the
# linear probes at the last step only).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "ID accuracy (the narrow test set) against OOD accuracy (mean over the four shifted test sets), both on logit axes, for every model, checkpoint and seed. Grey line and band: the baseline fitted to the supervised models' checkpoints, with its 95% bootstrap band. Dashed: y = x. Look at which models sit above the line, and what they have in common.", "name": "fig-ch4-line"}}
fig, ax = plt.subplots(figsize=(7, 5))
main_heads = results[(results.left_out == "") & results["head"].isin(["zero-shot", "classifier", "linear probe"])]
plots.effective_robustness(main_heads, results[diversity.is_baseline(results)], np.linspace(0.08, 0.98, 200),
                           hue="model", ax=ax, palette=palette)
plt.show()

# %% [markdown]
# ## Effective robustness per factor
#
# {numref}`fig-ch4-factors` puts a number on each factor: the change in ER when only that factor
# changes, at matched accuracy and at the last checkpoints.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Change in effective robustness when one factor is switched on (mean and 95% interval over seeds, paired by seed), read at matched ID accuracy (the decision rules' reading) and at the models' last checkpoints (the paper's). Dashed grey: the equivalence margin of the contributes-little claims, which read the narrower 90% interval (the table below). A cause sits clearly above zero; a factor that contributes little stays inside the margin.", "name": "fig-ch4-factors"}}
effects = diversity.factor_effects(results)
both = diversity.both_readings(results)
fig, ax = plt.subplots(figsize=(8, 4))
plots.points_with_ci(both, "factor", "delta_er", "reading", ax=ax, ylabel="change in effective robustness")
for bound in (-margin, margin):
    ax.axhline(bound, color="0.6", lw=1, ls="--")
ax.tick_params(axis="x", labelrotation=25)
plt.show()

# %%
diversity.factor_table(effects)

# %% [markdown]
# The same effects at the last checkpoints (the paper's reading), with the linear probe as a
# second reading of language at test time:

# %%
diversity.factor_table(diversity.factor_effects(results, "final", {**diversity.FACTORS, **diversity.SECOND_READINGS}))

# %% [markdown]
# ## Diversity or coverage
#
# {numref}`fig-ch4-coverage` splits ER by whether the model's training set contained the test
# style. Each leave-one-style-out CLIP counts as "without this style" on the style it left out,
# and as "with this style" on the covered styles it kept; edge maps are in no training set.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Effective robustness on each shifted test set (its own baseline line) of the CLIP models at their last checkpoints, by whether their training set contained the style (mean and 95% interval over seeds). Narrow: CLIP on the narrow set. Diverse without this style: the leave-one-style-out CLIPs on the style they left out, and every diverse CLIP on edge maps.", "name": "fig-ch4-coverage"}}
styles = diversity.style_effective_robustness(results, world.shift_styles, world.covered_shifts)
fig, ax = plt.subplots(figsize=(8, 4))
plots.points_with_ci(styles, "shift", "er", "training set", ax=ax, order=list(world.shift_styles),
                     ylabel="effective robustness on the shift")
plt.show()

# %% [markdown]
# The same comparison paired by seed at matched accuracy, the style being the one each
# leave-one-style-out CLIP left out:

# %%
coverage = diversity.coverage_effects(results)
coverage_ci = diversity.factor_intervals(coverage, by="comparison")
diversity.factor_table(coverage, by="comparison")

# %% [markdown]
# ## Effective robustness along training
#
# {numref}`fig-ch4-training` follows each model's ER through training (every checkpoint is
# measured on every test set): the trajectories the matched reading reads.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Effective robustness (on the mean over the four shifts, against the baseline line above) at every checkpoint of training, per model (mean and 95% band over seeds). A curve that is still moving at the last step has not settled: its final ER depends on the training budget.", "name": "fig-ch4-training"}}
fig, ax = plt.subplots(figsize=(7, 4))
plots.lines_with_ci(main_heads[main_heads["head"] != "linear probe"], "step", "er", "model", ax=ax,
                    ylabel="effective robustness", palette=palette)
ax.legend(frameon=False, fontsize="x-small", loc="upper left", bbox_to_anchor=(1, 1))
plt.show()

# %% [markdown]
# ## Real data
#
# Fang et al.'s own test of the language factor (their Section 4) trains the same ResNet-50 twice
# on the same images, the ImageNet training images that have Flickr text (ImageNet-Captions): once
# as CLIP on their captions, once as a supervised classifier on their labels. Both are tested on
# ImageNet and on five shifts: ImageNetV2, -Sketch, -R, -A and ObjectNet. The supervised
# checkpoints give the baseline line; CLIP on ImageNet-Captions lies on it, with no effective
# robustness, so language alone does not make CLIP robust. An optional third run trains CLIP on a
# diverse web set of the reader's choice, the distribution factor.
#
# `clipbook.experiments.diversity_real` runs this when `real_data` names a folder laid out as
# below (each entry may be a symbolic link to where the data already are; nothing is downloaded):

# %%
diversity_real.layout_table(real_data or "DATA")

# %% [markdown]
# CLIP trains with `open_clip_train` (under `torchrun` with `real_gpus` > 0), the supervised twin
# with the book's loop for image files (`clipbook.training.image_files`), with the same augmentation,
# optimizer, schedule and epochs. Every epoch's checkpoint is tested on every set (CLIP zero-shot
# with the 80 prompts of CLIP's ImageNet ensemble, or its 7-prompt subset; ImageNet-R and -A scored on their 200 classes;
# ObjectNet on its 113 ImageNet classes). Each stage resumes where it stopped. This is days of
# GPU time at the paper's 32 epochs; we have not run it (there is no such data or GPU here), so
# the published page shows the layout only. To run it:
# `python -m clipbook run diversity --profile paper -p real_data /path/to/DATA`.

# %%
if real_data:
    real_config = imagenet_runs.RealConfig(model=real_model, epochs=real_epochs, batch_size=real_batch_size,
                                           warmup=real_warmup, gpus=real_gpus or None, workers=real_workers)
    real_accuracies = diversity_real.run(real_data, real_out, real_config, diverse_pairs=real_diverse_pairs or None,
                                          templates=real_prompts)
    real_points = imagenet_runs.id_ood(real_accuracies)
    real_er, _ = diversity_real.effective_robustness(real_points)
    display(real_er.round(3))
    fig, ax = plt.subplots(figsize=(7, 5))
    plots.effective_robustness(real_points, real_points[real_points.method == "supervised"],
                               np.linspace(0.01, 0.95, 200), hue="run", ax=ax)
    ax.set_title("ImageNet vs. mean over the shifts, every epoch's checkpoint", fontsize="small")
    plt.show()
else:
    print("real_data is empty: the real-data experiment is not part of this run.")

# %% [markdown]
# ## Claims
#
# The rules are the ones stated above, in the three-way form of the whole book ({doc}`../deciding`),
# with the power of the design beside every verdict. Every claim reads effective robustness, whose
# read-out first sees a planted effect: twins of this run's baseline models placed `margin` above
# the baseline line must read `margin`, and the models on the line 0. A claim marked *this book* in
# the table is the book's own extension of the paper; its verdict says nothing about the paper.
# When the real-data experiment runs, its claim joins the table, tested as set before any run:
# CLIP trained on ImageNet-Captions has no effective robustness, its 95% bootstrap interval (over
# the baseline models) lying within plus or minus `margin`.

# %%
er_control = controls.effective_robustness_control(*(results[diversity.is_baseline(results)][c]
                                                     for c in ("id_accuracy", "ood_accuracy")), margin)
decided = diversity.decide(effects, coverage, margin, diversity.smallest_clip_accuracy(final), er_control)
if real_data:
    narrow_clip = real_er.set_index("run").loc["clip-imagenet-captions"]
    decided["r"] = diversity_real.no_effective_robustness(narrow_clip)
controls.control_table({"effective robustness": er_control,
                        "size": diversity.size_control(diversity.smallest_clip_accuracy(final))})

# %%
claims = ClaimSet("diversity", list("abcdefgh") + ["r"] * bool(real_data))
claims.add("a", "The diversity of the training distribution is the main cause of effective robustness.",
           "Fang et al. 2022, abstract", decided["a"])
sources = {"b": "Fang et al. 2022, Sec. 2 (after Taori et al. and Miller et al.)",
           "c": "Fang et al. 2022, Sec. 4 (ImageNet-Captions)", "d": "Fang et al. 2022, abstract",
           "e": "Fang et al. 2022, abstract (YFCC-15M-Cls)", "f": "Fang et al. 2022, Sec. 1 (SimCLR on YFCC-15M)"}
for claim_id, factor in diversity.LITTLE.items():
    claims.add(claim_id, f"{factor.capitalize()} contributes little to effective robustness.", sources[claim_id],
               decided[claim_id])
claims.add("g", "Diversity buys robustness to the test styles the training set covers.", "this book", decided["g"],
           origin="book")
claims.add("h", "Diversity buys robustness to test styles the training set does not cover.", "this book", decided["h"],
           origin="book")
if real_data:
    claims.add("r", "CLIP trained on ImageNet-Captions has no effective robustness.", "Fang et al. 2022, Sec. 4",
               decided["r"])

# %% tags=["nbval-check-output"]
claims.finish(enforce=enforce_claims, not_reproduced=not_reproduced, undecided=undecided)[SUMMARY]

# %% [markdown]
# **Rules changed after a result was seen.** This chapter's reading at matched accuracy was chosen
# after the paper's own reading, at the last checkpoints, had failed claims d and e with the wrong
# sign; both readings are shown above for every factor, and the table gives each change, why, and
# the commit:

# %%
claims.history_table()

# %% [markdown]
# ## What it means

# %% tags=["remove-cell"]
wide, tost = diversity.factor_intervals(effects), diversity.factor_intervals(effects, 0.90)
at_end = diversity.factor_intervals(diversity.factor_effects(
    results, "final", {**diversity.FACTORS, **diversity.SECOND_READINGS}), 0.90)
cover = diversity.factor_intervals(coverage, by="comparison") if len(coverage) else {}
prose.say(distribution=wide.get("training distribution", "not run"), size=tost.get("training set size", "not run"),
          train_language=tost["language at training time"], test_language=tost["language at test time"],
          probe_at_end=at_end["language at test time (linear probe)"], loss=tost["contrastive loss"],
          simclr=tost["language and loss (SimCLR)"], loss_at_end=at_end["contrastive loss"],
          simclr_at_end=at_end["language and loss (SimCLR)"], c_why=decided["c"].why or "decided",
          f_why=decided["f"].why or "decided", covered=cover.get("covered - left out", "not run"),
          uncovered=cover.get("left out - narrow", "not run"))

# %% tags=["remove-cell"]
models = {"diverse": diversity.CLIP_DIVERSE, "narrow": diversity.CLIP_NARROW, "supervised": diversity.SUPERVISED,
          "labels": diversity.CAPTION_LABELS, "simclr": diversity.SIMCLR, "small": diversity.FACTORS["training set size"][1]}
confirmed = [sd for sd in spreads if equivalence_power(sd, n_seeds, margin) >= 0.8]
prose.say(digits=2, f_power=decided["f"].power,
          **{f"{name}_id": diversity.final_id_accuracy(final, model) for name, model in models.items()})
other_sets = records.stored("04_diversity")
prose.say(recorded_at=records.recorded_at(other_sets), **{f"{c}_sets": records.cited(other_sets, c) for c in "abcf"})
prose.say(class_named=f"{world.p_class:.0%}", margin=f"{margin:g}", main_floor=f"{diversity.MAIN_FLOOR:g}",
          size_floor=f"{diversity.SIZE_FLOOR:g}", seed_range=prose.seed_range(first_seed, n_seeds), n_seeds=n_seeds,
          steps=steps, train_seconds=f"{sweep.seconds:.0f}", confirmed_spread=f"{max(confirmed, default=0):g}")

# %% [markdown]
# **Read at matched accuracy, the paper's picture holds in this world where the seeds can decide:
# the training distribution moves effective robustness by a large amount, and three of the other
# factors, tested the way Fang et al. tested them, move it by less than the margin; for the other
# two, five seeds cannot tell.** In the default run (seeds {glue:text}`seed_range`, a set first run
# after these rules were written):
# - (ii) Training distribution: {glue:text}`distribution`. CLIP trained on the narrow images sits
#   on the baseline line; CLIP trained on the diverse ones sits far above it.
# - (i) Size: {glue:text}`size` (90% interval): inside the margin. CLIP on half the diverse set
#   is less accurate ({glue:text}`small_id` against {glue:text}`diverse_id` ID) and about as robust.
# - (iii) Language at training time, on the same narrow images: {glue:text}`train_language`
#   (90%), *undecided*: {glue:text}`c_why`.
# - (iv) Language at test time: prompt ensembles against bare class names,
#   {glue:text}`test_language` (90%); a linear probe on the same features, which uses no text at
#   all, reads {glue:text}`probe_at_end` (90%) at the last checkpoints.
# - (v) Contrastive loss: CLIP against cross-entropy on labels read off the same captions,
#   {glue:text}`loss` (90%).
# - (iii) and (v) together: CLIP against SimCLR fine-tuned on those labels, a model that never saw
#   language, {glue:text}`simclr` (90%), *undecided*: this arm has the largest spread over seeds
#   ({glue:text}`f_why`; the design's power at these seeds is {glue:text}`f_power`).
#
# **Why the reading matters, and when it was chosen.** The same runs read at the last checkpoints,
# the paper's way, say something else for the loss: there CLIP looks *less* robust than the
# caption-label classifier ({glue:text}`loss_at_end`, 90%) and than SimCLR
# ({glue:text}`simclr_at_end`). CLIP ends less accurate on the diverse images
# ({glue:text}`diverse_id` ID, against {glue:text}`labels_id` and {glue:text}`simclr_id` for the two
# classifiers; narrow CLIP and the supervised model are {glue:text}`narrow_id` and
# {glue:text}`supervised_id`), and models trained on diverse data lie on a line much steeper than
# the baseline's, so along their training ER grows with accuracy. Comparing them where they were
# equally accurate removes that. The matched reading became this chapter's rule after the
# last-checkpoint reading had failed claims d and e with the wrong sign in an earlier version (the
# claims' rule history above says when and why); both readings are shown for every factor, and a
# reader who prefers the paper's reading has its numbers in the table above it.
#
# **Other seed sets.** This run repeated at first_seed 0, 1000 and 2000 (stored records,
# {glue:text}`recorded_at`) gives the distribution's effect (claim a) {glue:text}`a_sets`; size
# (claim b) {glue:text}`b_sets`; language at training time (claim c) {glue:text}`c_sets`; and
# language with the loss (claim f) {glue:text}`f_sets`. The Results page lists every claim's
# verdict on each set. Earlier versions of this chapter, under the earlier two-way rules, had
# already seen claims c and f move between seed sets.
#
# **Diversity or coverage.** {numref}`fig-ch4-coverage` answers the reader's question. Diversity
# buys robustness mostly to the styles it covers: on the style a leave-one-style-out CLIP never
# saw, its ER is {glue:text}`covered` below the full diverse CLIP's on that style (claim g). What
# it buys without coverage is not settled: {glue:text}`uncovered` over narrow CLIP (claim h,
# *undecided*: the interval reaches both {glue:text}`main_floor` and {glue:text}`margin`). Each
# left-out style rests on one or two seeds, so the per-style figure is a set of single readings;
# edge maps, which no training set holds, gain almost nothing. In this world, "CLIP is robust
# because its data are diverse" means, to a large extent, "because its data contain the shifts".
#
# **Limits.** Everything here is a small world on a CPU: ten classes of shapes, tiny towers,
# {glue:text}`steps` steps, {glue:text}`n_seeds` seeds. The SimCLR arm and the contrastive-loss arm
# stand in for YFCC-15M and YFCC-15M-Cls, the narrow pair for ImageNet-Captions. The margin of
# {glue:text}`margin` is our choice, stated before the run; at these seeds the tests have good
# power (0.8 or more) for spreads up to about {glue:text}`confirmed_spread` (the table above, from
# pilots at 400 steps) and little for the loss arms, whose spreads are larger, so their verdicts
# are the least firm. This run trained its models in {glue:text}`train_seconds` s; the chapter
# takes 7 to 8 minutes on two quiet cores, over the book's usual 5 and inside the 8 we allow a
# chapter with a reason: seven models per seed (four of them CLIPs, one SimCLR pre-training) at five seeds
# is what the six tests and the coverage split need. At 400 steps the run took 456 to 495 s, at or
# over the 8 minutes; the cut to 360 was chosen before any run with it, as the one cut that keeps
# every model, arm and checkpoint spacing, and its verdicts are reported as they came (at 400 steps
# all six of the paper's claims reproduced at seeds 0 to 4). The `paper` profile (ten seeds, ten
# times the data, 5000 steps, every style left out at every seed, and the real-data experiment
# above) needs a GPU, and we have not run it.
