# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   clipbook:
#     key_figure: fig-ch4-factors
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
n_seeds: int = 3  # independent seeds per model (data draw and initialization) {min 2}
first_seed: int = 0  # seeds are first_seed, ..., first_seed + n_seeds - 1 (choose fresh ones to check a result) {min 0}
n_train: int = 4000  # training images per model (the full size) {min 1, max 100000}
n_test: int = 1000  # images per test set {min 1, max 50000}
size_fractions: list[float] = [0.25, 1.0]  # training set sizes, as fractions of n_train (factor i) {above 0, max 1, non-empty}
diverse_fractions: list[float] = [0.0, 1.0]  # share of diverse images in the training set (factor ii) {min 0, max 1, non-empty}
model: str = "tiny-rn"  # open_clip image tower (a registered tiny config, or any open_clip name)
text_layers: int = 1  # layers of the text tower {min 1}
steps: int = 300  # optimizer steps, the same for every model {min 1}
batch_size: int = 128  # images (and captions) per step {min 2}
lr: float = 1e-3  # Adam learning rate {above 0}
log_every: int = 50  # steps between checkpoints of the supervised baseline models {min 1}
real_data: str = ""  # folder of ImageNet-Captions and the ImageNet test sets ("": skip the real-data experiment)
real_out: str = "runs/imagenet-captions"  # where the real-data experiment keeps checkpoints and accuracies
real_model: str = "RN50"  # open_clip architecture of the real-data experiment
real_epochs: int = 32  # epochs over ImageNet-Captions, for CLIP and the supervised model alike {min 1}
real_batch_size: int = 256  # images per GPU and step {min 1}
real_gpus: int = 0  # GPUs for open_clip_train under torchrun (0: one plain process) {min 0}
real_warmup: int = 2000  # learning-rate warm-up steps {min 0}
real_workers: int = 8  # DataLoader processes decoding images {min 0}
real_prompts: str = "openai"  # zero-shot prompts: CLIP's 80 ImageNet templates, or "simple" (7 of them)
real_diverse_pairs: str = ""  # optional open_clip CSV of diverse web pairs (a YFCC, CC or LAION subset)
enforce_claims: bool = True  # fail the run when a verdict differs from the text (other runs than the default report only)
not_reproduced: list[str] = ["a", "b", "c", "d", "e"]  # the claims this run's text reports as not reproduced

# %% tags=["remove-cell"]
# The values a run gives (the runner, or plain papermill) checked against the cell above.
from clipbook.book.runner import check_parameters

check_parameters("04_diversity", globals())

# %%
import matplotlib.pyplot as plt
import numpy as np

from clipbook import plots
from clipbook.book.claims import ClaimSet
from clipbook.data.diversity import DiversityWorld, test_sets
from clipbook.data.render import make_shapes
from clipbook.evaluate.stats import ci_table, summarize
from clipbook.experiments import diversity, diversity_real
from clipbook.learners import imagenet_runs
from clipbook.training.loop import TrainConfig

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
# Captions are web-like: a title with a filler word and a description, each attribute (colour,
# size, texture, background, style) mentioned half the time, and the class named in 80% of them.
# Objects sit in the centre of the image so that the small towers learn the shapes within a CPU
# budget.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The first eight images of each training distribution and test set (same seed, so the same scenes in every row but the diverse one, which mixes styles). Top two rows: what the models train on. The other rows: the ID test set and the four shifted test sets the OOD accuracy averages over.", "name": "fig-ch4-samples"}}
tests = test_sets(world)
diverse_sample = make_shapes(world.diverse(seed=0, n=8)).images
narrow_sample = make_shapes(world.narrow(seed=0, n=8)).images
plots.image_grid({"narrow (train)": narrow_sample, "diverse (train)": diverse_sample,
                  **{f"{name} (test)": data.images for name, data in tests.items()}})
plt.show()

# %% [markdown]
# ## One factor at a time
#
# Every model is the same open_clip image tower (a ResNet at width 8), trained from scratch for
# the same number of steps on the same number of images. What changes is one factor:
#
# | factor | with it | without it |
# |---|---|---|
# | (i) training set size | CLIP on the full diverse set | CLIP on a quarter of it |
# | (ii) training distribution | CLIP on the diverse set | CLIP on the narrow set |
# | (iii) language at training time | CLIP on the narrow set | a supervised classifier on the same narrow images |
# | (iv) language at test time | CLIP (diverse) with its zero-shot head from prompts | the same CLIP's image features with a linear probe, fitted to its own training images |
# | (v) contrastive loss | CLIP on the diverse set | cross-entropy on the diverse images whose captions name exactly one class, labelled by that name (Fang et al.'s YFCC-Cls recipe) |
#
# The supervised classifier is the image tower with a head of normalized class prototypes and a
# learned temperature, the same form as CLIP's zero-shot head. It is also the *baseline*: its
# checkpoints every `log_every` steps, for every seed, are the ImageNet models that define the
# line. The effect of a factor is the change in ER between "with" and "without", paired by seed
# (the same seed draws the same scenes and the same initial weights).

# %%
runs = diversity.settings(diverse_fractions, size_fractions)
config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, log_every=log_every)
seeds = range(first_seed, first_seed + n_seeds)
sweep = diversity.run_sweep(world, runs, seeds, config, model_name=model, text_layers=text_layers)
results, line = diversity.with_effective_robustness(sweep.results)
results = results.assign(model=diversity.model_names(results)).sort_values(["model", "seed", "step"], kind="stable")
palette = plots.category_palette(results.model)  # one colour per model in every figure
print(f"{results.groupby(['model', 'seed']).ngroups} models trained in {sweep.seconds:.0f} s; "
      f"baseline: logit(OOD) = {line.slope:.2f} logit(ID) + {line.intercept:.2f}")
final = diversity.final(results)
accuracies = final.melt(["model", "seed"], ["id_accuracy", "ood_accuracy"], var_name="test", value_name="accuracy")
ci_table(accuracies, "model", "test", "accuracy").rename(columns={"id_accuracy": "ID accuracy",
                                                                 "ood_accuracy": "OOD accuracy (mean over shifts)"})

# %% [markdown]
# ## The line and the models off it
#
# {numref}`fig-ch4-line` is the signature figure of effective robustness. The supervised
# checkpoints trace the baseline; the other models are shown at every checkpoint too (the
# linear probes at the last step only).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "ID accuracy (the narrow test set) against OOD accuracy (mean over the four shifted test sets), both on logit axes, for every model, checkpoint and seed. Grey line and band: the baseline fitted to the supervised models' checkpoints, with its 95% bootstrap band. Dashed: y = x. Look at which models sit above the line, and what they have in common.", "name": "fig-ch4-line"}}
fig, ax = plt.subplots(figsize=(7, 5))
plots.effective_robustness(results, results[diversity.is_baseline(results)], np.linspace(0.08, 0.98, 200),
                           hue="model", ax=ax, palette=palette)
plt.show()

# %% [markdown]
# ## Effective robustness per factor
#
# {numref}`fig-ch4-factors` puts a number on each of the five factors: the change in ER when only
# that factor changes.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Change in effective robustness when one factor is switched on (mean and 95% interval over seeds, paired by seed). A factor that causes robustness sits clearly above zero; compare each factor's interval with the training distribution's.", "name": "fig-ch4-factors"}}
effects = diversity.factor_effects(results)
fig, ax = plt.subplots(figsize=(7, 3.6))
plots.points_with_ci(effects.assign(effect="delta ER"), "factor", "delta_er", "effect", ax=ax,
                     ylabel="change in effective robustness")
ax.get_legend().remove()
ax.tick_params(axis="x", labelrotation=20)
plt.show()

# %%
diversity.factor_table(effects)

# %% [markdown]
# The distribution's effect read as a dose: ER of the full-size CLIP models against the share of
# diverse images in their training set (the default runs only the two ends; the `paper` profile
# adds the mixtures in between).

# %%
clip_full = final[(final["head"] == "zero-shot") & (final.size_fraction == 1.0)]
summarize(clip_full, "diverse_fraction", "er").round(3)

# %% [markdown]
# ## Effective robustness along training
#
# ER is meant to be a property of a model that does not depend on how accurate it is. That holds
# for models whose accuracies are well away from chance; here the small models train for a CPU's
# budget, and the CLIP models end far less accurate than the classifiers.
# {numref}`fig-ch4-training` follows each model's ER through training (every checkpoint is
# measured on every test set), to show whether it has settled by the last step.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Effective robustness (on the mean over the four shifts, against the baseline line above) at every checkpoint of training, per model (mean and 95% band over seeds). A curve that is still moving at the last step has not settled: its final ER depends on the training budget.", "name": "fig-ch4-training"}}
fig, ax = plt.subplots(figsize=(7, 4))
plots.lines_with_ci(results[results["head"] != "linear probe"], "step", "er", "model", ax=ax,
                    ylabel="effective robustness", palette=palette)
ax.legend(frameon=False, fontsize="x-small", loc="upper left", bbox_to_anchor=(1, 1))
plt.show()

# %% [markdown]
# ## Shift by shift
#
# The mean over shifts hides which shifts the robust models are robust to.
# {numref}`fig-ch4-shifts` fits the baseline line on each shift separately. Sketches, cartoons and
# blur occur in the diverse training data; edge maps occur in none.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Effective robustness on each shifted test set (its own baseline line), per model (mean and 95% interval over seeds). The edge-map shift is absent from every training distribution.", "name": "fig-ch4-shifts"}}
per_shift = diversity.shift_effective_robustness(results, world.shift_styles)
fig, ax = plt.subplots(figsize=(8, 4))
plots.points_with_ci(per_shift, "shift", "er", "model", ax=ax, order=list(world.shift_styles),
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
# The tests were written from the paper's abstract before the experiment was run. "Main cause"
# becomes: the training distribution's effect on ER has a 95% interval above 0.03 (three points of
# accuracy). "Contributing little" becomes, for each of the four other factors: its whole 95%
# interval lies within plus or minus half the training distribution's effect. Intervals are
# Student-t over seeds, on differences paired by seed.
#
# A claim marked *this book* in the table is the book's own extension of the paper (a control, a
# finer dose-response, a prediction the paper's text does not make); its verdict says nothing
# about the paper. To check a verdict on fresh seeds, rerun with `-p first_seed 1000`.

# %%
ci = diversity.factor_intervals(effects)
main = ci["training distribution"]
claims = ClaimSet("diversity")
source = "Fang et al. 2022, abstract"
claims.add("a", "The diversity of the training distribution is the main cause of effective robustness.", source,
           "change in ER from the narrow to the diverse training distribution (CLIP): CI above 0.03",
           f"delta ER {main}", main.lo > 0.03, evidence=[main])
for claim_id, factor in zip("bcde", ["training set size", "language at training time", "language at test time",
                                      "contrastive loss"]):
    effect = ci[factor]
    claims.add(claim_id, f"{factor.capitalize()} contributes little to effective robustness.", source,
               f"CI of the change in ER within +/- half the distribution's effect ({main.mean / 2:.3f})",
               f"delta ER {effect}", -main.mean / 2 <= effect.lo and effect.hi <= main.mean / 2,
               evidence=[main, effect])

# %% [markdown]
# When the real-data experiment runs, its claim joins the table, tested as set before any run:
# CLIP trained on ImageNet-Captions has no effective robustness, its 95% bootstrap interval
# (over the baseline models) lying within plus or minus 0.05.

# %%
if real_data:
    narrow_clip = real_er.set_index("run").loc["clip-imagenet-captions"]
    claims.add("r", "CLIP trained on ImageNet-Captions has no effective robustness.", "Fang et al. 2022, Sec. 4",
               "ER of its last checkpoint (mean over the five shifts): 95% bootstrap CI within +/- 0.05",
               f"ER {narrow_clip.er:.3f} [{narrow_clip.er_lo:.3f}, {narrow_clip.er_hi:.3f}]",
               -0.05 <= narrow_clip.er_lo and narrow_clip.er_hi <= 0.05,
               evidence=[narrow_clip.er, narrow_clip.er_lo, narrow_clip.er_hi])

# %% tags=["nbval-check-output"]
claims.finish(enforce=enforce_claims, not_reproduced=not_reproduced)[["claim of", "measured", "verdict"]]

# %% [markdown]
# ## What it means
#
# **None of the five tests passes at this budget; claim a misses by a hair.** The evidence splits
# into a part that agrees with the paper and a part that does not.
#
# *What agrees.* The training distribution moves effective robustness, in the paper's direction
# and by the largest positive amount of the five factors (about +0.11 in the default run). Every
# model trained on the diverse images sits above the baseline line, whichever loss trained it,
# while CLIP trained on the narrow images sits on the line with the supervised models. Language
# supervision at training time, on the same images, bought no robustness: its effect is about
# -0.01, with an interval around zero. Shift by shift, the gain comes on the shifts the diverse
# data contains (sketches most, then cartoons, blur least), and none of it on edge maps, which
# no training set contains. In this world diversity buys robustness to what it covers, not
# robustness in general.
#
# *Why claim a's verdict is not a decision.* Its interval, 0.108 [-0.009, 0.225], misses the
# 0.03 floor we set. The verdict has flipped twice on changes that alter only the order of
# floating-point operations. Before the text tower ran at the captions' length instead of the
# full context (the same arithmetic, exactly), the run gave 0.099 [-0.006, 0.203] and failed.
# After it, 0.102 [0.035, 0.170] passed. Since the models train side by side on one CPU thread each
# instead of one after another on two, it fails again. Three seeds give Student-t intervals 4.3
# times their standard error on each side, and CLIP's accuracy varies a lot between seeds, so
# rounding alone moves the lower bound across the floor. Seeds 1000 to 1002 tell the same story:
# there claim a fails (0.102 [-0.113, 0.318]) and claim c passes (-0.001 [-0.028, 0.026]). We
# report the verdicts this run gives, and read claims a and c as undecided at three seeds.
#
# *Why the other tests fail.* For claims b and c the intervals are too wide: they reach past
# half the distribution's effect, although their point estimates are small. Claims d and e fail for a different reason: the sign
# is wrong.
# - The zero-shot head is *less* robust than a linear probe on the same features (about -0.07).
# - CLIP is much less robust than cross-entropy on labels read from the same captions (about
#   -0.21).
#
# We first suspected the training budget. Every model gets the same 300 steps. The classifiers
# converge in that time; CLIP does not. On the diverse data it ends at about 25% ID accuracy,
# against 61% for the caption-label classifier, and {numref}`fig-ch4-training` shows its
# effective robustness still rising at the last step. So we reran the chapter with four times
# the steps (`-p steps 1200 -p log_every 200`, 38 minutes on our two cores). The results of
# that run:
# - The distribution's effect grew to 0.198 [0.110, 0.285], and claim a passes its test there.
# - The loss's effect did not move: -0.174 [-0.213, -0.134]. Diverse CLIP still ends at only 40%
#   ID accuracy, against 73% for the caption-label classifier.
# - The size effect grew to 0.126 [0.059, 0.193]: CLIP on a quarter of the diverse set, 1000
#   images, stays near chance.
# - The two language effects kept intervals too wide to decide.
#
# The budget alone, then, does not explain claim e. What we believe does, an observation made
# after the fact rather than a test we set, is the shape of the comparison. The models trained
# on diverse data lie close to y = x, a much steeper line than the baseline's (slope 0.2 to 0.3
# in logit space). Along such a family, ER grows with ID accuracy. A difference in ER between
# models of very different accuracy, CLIP at 25 to 40% and the classifier at 60 to 73%, partly
# measures accuracy and not the factor. A fairer reading compares models of similar accuracy, or
# whole families along their own lines; with CPU-sized CLIPs we could not match accuracies. A
# second weakness shows
# in the longer run. Its baseline checkpoints start at step 200 and cover only ID accuracies of
# 77 to 95%, so the line is extrapolated far down to where the CLIP models are, and its band is
# wide. A baseline must span the accuracies of the models it judges.
#
# So part of the paper's qualitative picture holds. The data moves robustness the most, and
# narrow-data CLIP is no more robust than supervised learning. The claim that the other factors
# contribute little does not reproduce at a CPU's budget, and the distribution's margin sits so
# close to its floor at the default budget that rounding decides it. We report all five claims as not
# reproduced, not as reproduced with caveats. The test that would decide them is the `paper` profile
# (`python -m clipbook run diversity --profile paper`). It uses ten seeds, ten times the data,
# 5000 steps of 512 pairs, the mixtures of the two distributions, and baseline checkpoints every
# 100 steps, so that the line spans low accuracies too; and it runs the real-data experiment
# above. It needs a GPU (and, for the real part, the data sets), and we have not run it.
