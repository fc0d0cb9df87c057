# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   clipbook:
#     key_figure: fig-ch2-sharing
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Inter-class feature sharing and rich captions
#
# **The claim** {cite}`xue2024understanding`: a caption does not only name the class, it
# mentions *details*, and details are shared across classes. Cows are photographed on grass, but
# so are dogs and horses, and their captions say "on the grass". Because multi-modal contrastive
# learning (MMCL) has to match each image to its own caption, a detail that captions mention in
# *other* classes must get its own direction in the representation. Once it has one, it no longer
# stands in for the class it is over-represented in, and the zero-shot classifier stops using it.
# Supervised learning (SL) never sees the captions and keeps the shortcut. The paper calls this
# **inter-class feature sharing**; with Chapter 1's intra-class contrasting it is the second
# mechanism that keeps a spurious feature from overshadowing the core feature.
#
# The paper then asks which details a caption should mention. Richer captions help, but not every
# kind of detail does: a detail helps when it gives one of the two mechanisms something to work
# with. This chapter tests both claims in a linear latent world, and the first also with images,
# and shows along the way that *how the zero-shot prompt is written* decides whether an annotated
# detail helps at all.

# %% tags=["parameters"]
share_probs: list[float] = [0.0, 0.1, 0.2, 0.3, 0.4]  # P(a class's attribute appears in an image of another class) (the sweep) {min 0, max 1, non-empty}
annotate_probs: list[float] = [0.0, 1.0]  # P(a caption mentions a present attribute), one MMCL curve each (claims compare 0 and 1) {min 0, max 1, non-empty}
caption_share_probs: list[float] = [0.0, 0.3]  # share_prob of the rich-caption sweep (claims read the largest) {min 0, max 1, non-empty}
varied_p_spurious: float = 0.9  # own-class presence of one more annotated MMCL curve and of a second world for claims a-c (set to p_spurious for none) {min 0, max 1}
n_seeds: int = 10  # independent seeds per setting (data, embeddings and initialization) {min 2, max 1000}
first_seed: int = 5000  # seeds are first_seed, ..., first_seed + n_seeds - 1 (choose fresh ones to check a result) {min 0, max 1_000_000_000}
n_classes: int = 4  # classes, each with its own attribute {min 2, max 1000}
p_spurious: float = 1.0  # P(a class's own attribute is present) in training {min 0, max 1}
test_presence: float = 0.5  # P(each attribute is present) in the OOD test, whatever the class {min 0, max 1}
core_std: float = 1.0  # within-class std of the core feature {min 0}
attr_std: float = 0.1  # std of an attribute around present/absent (small: a clean shortcut) {min 0}
n_background: int = 4  # background dimensions, independent of the class {min 0, max 4096}
n_noise: int = 8  # nuisance image dimensions no caption mentions {min 0, max 4096}
image_dim: int = 32  # image input dimension (at least 2 * n_classes + n_background + n_noise) {min 1, max 4096}
text_dim: int = 32  # caption input dimension (at least 2 * n_classes + n_background) {min 1, max 4096}
n_train: int = 4000  # training pairs per model {min 1, max 200000}
n_test: int = 4000  # test samples per split (ID and OOD) {min 1, max 200000}
embed_dim: int = 16  # shared embedding dimension (room for every feature a caption can mention) {min 1, max 4096}
steps: int = 1000  # optimizer steps (the same budget for every method) {min 1, max 1_000_000}
batch_size: int = 128  # minibatch size (also the number of in-batch negatives + 1) {min 2, max 65536}
lr: float = 0.01  # Adam learning rate {above 0}
n_image_seeds: int = 3  # seeds of each image experiment (first_seed onwards) {min 2, max 1000}
image_model: str = "tiny-vit"  # open_clip tower of the image experiment (a registered tiny config, or any open_clip name)
image_p_detail: float = 1.0  # P(a full caption mentions each detail of its image) {min 0, max 1}
image_n_train: int = 4000  # training images per model of the image experiment {min 1, max 100000}
image_n_test: int = 500  # images per test set of the image experiment {min 1, max 50000}
image_steps: int = 800  # optimizer steps per model of the image experiment {min 1, max 1_000_000}
image_batch_size: int = 64  # images (and captions) per step of the image experiment {min 2, max 65536}
image_lr: float = 1e-3  # Adam learning rate of the image experiment {above 0}
image_share: float = 0.4  # P(an image's colour is drawn uniformly, not its class's own) in the image experiment of claim j {min 0, max 1}
image_log_every: int = 100  # steps between checkpoints (the points of each line) {min 1, max 1_000_000}
real_data: str = ""  # folder of the ImageNet test sets and the image-caption table ("": skip the real-data experiment) {input}
real_pairs: str = ""  # MSCOCO or Conceptual Captions as an open_clip CSV ("": pairs.csv in real_data) {input}
real_out: str = "runs/caption-variants"  # where the real-data experiment keeps checkpoints and accuracies {output}
real_n_seeds: int = 3  # seeds per kind of text in the real-data experiment (first_seed onwards) {min 2, max 100}
real_model: str = "RN50"  # open_clip architecture of the real-data experiment
real_epochs: int = 32  # epochs over the pairs, each epoch's checkpoint one point of a line {min 1, max 1000}
real_batch_size: int = 256  # images per GPU and step {min 1, max 65536}
real_gpus: int = 0  # GPUs for open_clip_train under torchrun (0: one plain process) {min 0, max 64}
real_warmup: int = 2000  # learning-rate warm-up steps {min 0, max 1_000_000}
real_workers: int = 8  # DataLoader processes decoding images {min 0, max 256}
real_prompts: str = "openai"  # zero-shot prompts: CLIP's 80 ImageNet templates, or "simple" (7 of them)
enforce_claims: bool = True  # fail the run when a verdict differs from the text (other runs than the default report only)
not_reproduced: list[str] = ["f", "a9", "b9", "c9", "h"]  # the claims this run's text reports as not reproduced
undecided: list[str] = []  # the claims this run's text reports as undecided

# %% tags=["remove-cell"]
# The values a run gives (the runner, or plain papermill) checked against the cell above.
from clipbook import check_parameters

check_parameters("02_feature_sharing", globals())

# %%
from dataclasses import replace

import matplotlib.pyplot as plt

from clipbook import ClaimSet, SUMMARY, TrainConfig, ci_table, controls, plots, prose, records
from clipbook.data import DetailWorld, DiversityWorld, SharedDetailWorld
from clipbook.experiments import feature_sharing as fs
from clipbook.experiments import feature_sharing_images as fsi
from clipbook.learners import imagenet_runs

plots.set_style()
if real_data:  # missing or malformed real data fail here, before any compute
    fsi.locate_real(real_data, real_pairs or None)

# %% [markdown]
# ## The world
#
# Each of the `n_classes` classes has a **core** feature $z_c = \mu_c e_y + \sigma_c \varepsilon$
# (as in Chapter 1) and its own **attribute**, a low-variance feature that is present
# ($z_{a,j} \approx 1$) or absent ($\approx 0$). In training, a class's own attribute is present with
# probability `p_spurious` (1: always, "every cow stands on grass"), and the attribute of class $j$
# appears in an image of another class with probability `share_prob`, the knob of this chapter.
# Images also carry **background** features, independent of the class, and nuisance dimensions.
# In the shifted (OOD) test set every attribute is present with probability `test_presence`
# whatever the class: the attributes carry no information about the class any more.
#
# A caption names the class (its core feature at the class mean) and mentions a present attribute
# with probability `annotate_prob`. In the rich-caption sweep a caption may also mention the
# **core details** (the core feature with its within-class variation), the **spurious details**
# (the attributes) and the **background details**. Images are the same whatever the captions say
# (common random numbers), so every comparison between caption kinds is paired by seed.
#
# MMCL (linear encoders, open_clip's `ClipLoss`) and SL (a linear softmax classifier on the same
# images) are Chapter 1's, with the same optimizer budget; every model of both sweeps trains at
# once. MMCL classifies zero-shot with the prompt "the class, no detail mentioned" (we come back to
# this choice below). The table gives OOD accuracy (mean and 95% interval over seeds).

# %%
world = DetailWorld(n_classes=n_classes, core_std=core_std, attr_std=attr_std, p_spurious=p_spurious,
                    p_spurious_test=test_presence, share_prob_test=test_presence, n_background=n_background,
                    n_noise=n_noise, image_dim=image_dim, text_dim=text_dim)
config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr)
seeds = range(first_seed, first_seed + n_seeds)
results = fs.run_sweeps(world, share_probs, annotate_probs, caption_share_probs, seeds,
                        n_train=n_train, n_test=n_test, embed_dim=embed_dim, config=config,
                        varied_p_spurious=varied_p_spurious)
sharing = fs.sharing_results(results)
ci_table(sharing, "share_prob", "method", "ood_accuracy", bounds=(0, 1))

# %% [markdown]
# ## Sharing a detail across classes
#
# {numref}`fig-ch2-sharing` is the chapter's main result. At `share_prob = 0` an attribute only
# ever appears in its own class, always: image and caption cannot tell "cow" from "on grass", and
# every method uses the attribute as the class, so the shift sends all of them close to chance
# (dotted line). As the
# attribute starts to appear in other classes, SL and the MMCL whose captions never mention it
# recover a little: the attribute has become a worse predictor of the class. MMCL whose captions
# mention the attribute recovers much more, and its reliance on the attribute (right) falls
# further: the captions of the other classes have given the attribute a direction of its own.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: OOD accuracy (attributes decorrelated from the class) against the probability that a class's attribute also appears in other classes, mean and 95% band over seeds. Right: the attributes' share of each model's class signal. Compare the annotated MMCL curve with SL and with unannotated MMCL: the same images, but only when captions mention the attribute does sharing buy much robustness. The extra curve is annotated MMCL in a world where the attribute is sometimes missing from its own class (varied_p_spurious).", "name": "fig-ch2-sharing"}}
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
plots.lines_with_ci(sharing, "share_prob", "ood_accuracy", "method", ax=axes[0],
                    xlabel="share_prob (attribute in other classes)", ylabel="OOD accuracy")
axes[0].axhline(1 / n_classes, color="0.5", ls=":", lw=1)
plots.lines_with_ci(sharing, "share_prob", "detail_share", "method", ax=axes[1],
                    xlabel="share_prob (attribute in other classes)", ylabel="attribute share of the class signal")
handles, labels = axes[0].get_legend_handles_labels()
for ax in axes:
    ax.get_legend().remove()
fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
plt.show()

# %% [markdown]
# The fourth curve is a warning about what this experiment isolates. When an attribute is missing
# from part of its own class (`varied_p_spurious`), captions *within* the class already tell it
# apart from the class ("a cow" vs. "a cow on the grass"): that is Chapter 1's intra-class
# contrasting applied to a detail, and annotated MMCL is robust before any sharing. This is how
# the main world came to be: our first run of the sweep had the attribute in 90% of its class,
# and annotation alone made MMCL robust at every `share_prob`, which says nothing about sharing.
# Inter-class sharing matters where intra-class contrasting cannot act: a detail that never
# leaves its class can only be told apart from the class by the captions of other classes, so
# the main world has `p_spurious = 1`. The first world is not dropped: the claims below are also
# decided in it (claims a9-c9), with its own SL and unannotated MMCL, trained here.

# %%
first_world = varied_p_spurious != p_spurious
if first_world:
    first_results = fs.run_sweeps(replace(world, p_spurious=varied_p_spurious), share_probs, annotate_probs, [], seeds,
                                  n_train=n_train, n_test=n_test, embed_dim=embed_dim, config=config)
    display(ci_table(fs.sharing_results(first_results), "share_prob", "method", "ood_accuracy",
                     bounds=(0, 1)))

# %% [markdown]
# ## Which details should a caption mention?
#
# {numref}`fig-ch2-captions` starts from captions that only name the class and adds one kind of
# detail at a time, measuring the change in OOD accuracy against the class-only caption of the
# same seed.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Change in OOD accuracy from annotating each type of detail, against class-only captions (paired by seed; mean and 95% interval), with the attributes unshared (share_prob 0) and shared. Above the dotted zero line the detail helps. Look at which kinds help, and at the spurious details helping only once the attribute is shared.", "name": "fig-ch2-captions"}}
gains = fs.caption_gains(results)
fig, ax = plt.subplots(figsize=(8, 4.2))
plots.points_with_ci(gains, "caption", "ood_gain", "share_prob", ax=ax, order=[k for k in fs.CAPTIONS if k != fs.CLASS_ONLY],
                     xlabel="what the caption mentions besides the class", ylabel="OOD accuracy gain vs. class only")
plt.show()

# %% [markdown]
# Core details help most: they let MMCL contrast images *within* a class (Chapter 1), which is
# enough on its own. Spurious details help only when the attribute is shared: annotating a detail
# that never appears outside its class gives the loss nothing to separate it with. Background
# details do not help: no change while the attribute is unshared, and a loss once it is shared,
# where the attribute's share of the class signal rises above the class-only caption's (table
# below). Our reading, not tested further here: a caption that also describes the background lets
# the loss tell two images apart without the class, and the class information the image encoder
# still has to carry is then taken from the cleanest signal, the attribute. We report the cost
# as a finding of this world, not as a claim of the paper.

# %%
captions = results[(results.experiment == "captions") & (results.prompt == "class_core")]
ci_table(captions, "caption", "share_prob", "detail_share", bounds=(0, 1))

# %% [markdown]
# ## The prompt is part of the method
#
# Zero-shot classification needs one text per class, and with annotated details there is more
# than one reasonable choice. The **class-core** prompt names the class and mentions no detail,
# like "a photo of a cow". The **mean class caption** averages the training captions of the class,
# and so mentions the class's own attribute as often as its captions do: here, always. With the
# mean caption the attribute is written back into the classifier: annotated MMCL's OOD accuracy
# stays at its unshared level whatever the sharing ({numref}`fig-ch2-prompts`).
#
# The class-core prompt is not neutral either. When captions mention an attribute whenever it is
# present, a caption that does not mention it says "absent", so the class-core prompt asks for
# "a cow *without* grass". Where captions tell the attribute apart within its own class
# (`p_spurious` below 1), InfoNCE gives each attribute a *negative* vote for its own class (right
# panel, below the zero line): the model is robust to the shift, but pays for it in distribution,
# where its accuracy falls below its OOD accuracy (middle vs. left panel).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Annotated MMCL read with two prompt designs, against share_prob, in the main world (legend: the prompt alone) and with the attribute sometimes missing from its class (legend: the prompt and that p_spurious): OOD accuracy (left), ID accuracy (middle), and the signed vote of each class's attribute for its own class relative to the core feature (right; below zero the attribute counts against its class). The mean class caption brings the attribute back into the classifier; the class-core prompt keeps it out, and can turn its vote negative.", "name": "fig-ch2-prompts"}}
annotated = results[(results.experiment == "sharing") & (results.annotate_prob == 1.0)]
varied = annotated.p_spurious != p_spurious
annotated = annotated.assign(curve=annotated.prompt + (", p_spurious " + annotated.p_spurious.astype(str)).where(varied, ""))
fig, axes = plt.subplots(1, 3, figsize=(14, 4.4), layout="constrained")
for ax, (metric, label) in zip(axes, [("ood_accuracy", "OOD accuracy"), ("id_accuracy", "ID accuracy"),
                                      ("detail_vote", "attribute's signed vote")]):
    plots.lines_with_ci(annotated, "share_prob", metric, "curve", ax=ax, xlabel="share_prob", ylabel=label)
    ax.get_legend().remove()
axes[2].axhline(0, color="0.5", ls=":", lw=1)
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, frameon=False)
plt.show()

# %% [markdown]
# ## The paper's image experiment, in the shapes world
#
# Xue et al. also train CLIP on image-caption data (MSCOCO, Conceptual Captions) twice, with the
# full captions and with text that only names the label, at several training lengths, and plot
# each model's accuracy on ImageNet (ID) against its accuracy on shifted ImageNets (OOD): with
# full captions the models lie on a better line. The same experiment runs here with images. Tiny
# open_clip towers (`image_model`) train on the photos of Chapter 4's shapes world, every
# image captioned twice on the same images: "a photo of a small red striped circle on a light
# background." (each detail mentioned with probability `image_p_detail`) or "a photo of a
# circle.". Every `image_log_every` steps a checkpoint is tested zero-shot on photos (ID) and on
# four drawing styles training never shows (OOD: sketch, edge map, cartoon, noisy): each
# checkpoint is one point.
#
# The test, written before the run: fit a line per kind of text in logit space through all its
# checkpoints and seeds, and compare the two lines at the middle of the ID accuracies both reach
# (the label-only models learn the class much faster, so only there are the lines read between
# comparable models). The interval resamples seeds, since one run's checkpoints are not
# independent. The claim (h below) is that the full captions' line lies above. The experiment
# takes most of the chapter's time, with the second image experiment below (the two share one pool
# of workers): {glue:text}`image_models` small CLIPs of {glue:text}`image_steps` steps each per
# experiment. (A first version ran five seeds at batch 128 and took six minutes on two cores, over
# the chapter's budget; the batch was halved and a seed dropped before the first reported run. When
# the second experiment joined, each ran three seeds instead of four, to keep the chapter within
# five minutes; the rule history below records it.)

# %%
image_world = DiversityWorld(n_train=image_n_train, n_test=image_n_test)
detail_world = SharedDetailWorld(n_train=image_n_train, n_test=image_n_test, share=image_share)
image_config = TrainConfig(steps=image_steps, batch_size=image_batch_size, lr=image_lr, log_every=image_log_every)
image_sweeps = fsi.run_sweeps({"styles": fsi.ImageArm(image_world), "shared detail": fsi.ImageArm(detail_world, ("colour",))},
                              range(first_seed, first_seed + n_image_seeds), image_config, p_detail=image_p_detail,
                              model_name=image_model)
image_sweep, detail_sweep = image_sweeps["styles"], image_sweeps["shared detail"]
image_stats = fsi.claim_statistics(image_sweep.results)
ci_table(image_sweep.results, "step", "variant", "id_accuracy", bounds=(0, 1))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "ID accuracy (photos) against OOD accuracy (mean over four unseen drawing styles) of every checkpoint of every seed, with the line fitted in logit space per kind of text (axes in logit scale). The dotted vertical line is the common ID accuracy where the lines are compared.", "name": "fig-ch2-images"}}
fsi.compared_lines(image_sweep.results)
plt.show()

# %% [markdown]
# ### The mechanism in images: a shared detail, named or not
#
# In the experiment above no caption describes what the shift changes, so the paper's mechanism has
# nothing to act on there. The second image experiment gives it something. There are
# {glue:text}`detail_classes` classes (shapes), as many as colours, and colour is each class's
# spurious detail: an image shows its class's own colour with probability
# {glue:text}`detail_own` and otherwise a colour drawn at random, so every colour also appears,
# less often, in every other class (`image_share` is the share of drawn colours). The full captions
# name the colour of every image ("a photo of a red circle."), in its own class and in the others
# alike; the label-only text never does. Only sharing *and* naming lets the text side tell "red"
# from "circle", which is the paper's mechanism. The OOD test shows the same photos with colour
# drawn at random whatever the class: a model that took the colour for the class loses there. Both
# kinds of text train on the same images with the same budget as above, and the test is claim h's
# test on these lines (claim j below, written before this experiment first ran). The first version
# named every detail, as the captions above do; full-caption CLIP then learned the class so slowly
# that the two lines hardly overlapped and the line-gap read-out failed its control, so the claim
# could not be decided. Captions that name only the colour, the one detail the mechanism needs, were
# chosen after that result (the rule history below records it).

# %%
detail_stats = fsi.claim_statistics(detail_sweep.results)
ci_table(detail_sweep.results, "step", "variant", "ood_accuracy", bounds=(0, 1))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "ID accuracy against OOD accuracy (colour drawn at random whatever the class) of every checkpoint of every seed in the shared-detail world, with the line fitted in logit space per kind of text (axes in logit scale). The dotted vertical line is the common ID accuracy where the lines are compared: look at which line lies higher there.", "name": "fig-ch2-shared-detail"}}
fsi.compared_lines(detail_sweep.results)
plt.show()

# %% [markdown]
# ### On real data
#
# The paper's own version of this experiment trains CLIP on MSCOCO or Conceptual Captions and
# tests it zero-shot on ImageNet and its shifts (ImageNetV2, -Sketch, -R, -A, ObjectNet).
# `clipbook.experiments.feature_sharing_images.run_real` runs it when `real_data` names a folder
# laid out as below (`real_pairs` may point to the table elsewhere; nothing is downloaded):

# %%
fsi.layout_table(real_data or "DATA")

# %% [markdown]
# The paper's exact label-only text is not recoverable (the notes on the paper's body in this
# book's sources say so), so this is the book's choice: the label-only text of a pair is "a photo
# of a {class}.", its class given by the table's `label` column when it has one (ImageNet class
# indices), or otherwise found as Fang et al. built YFCC-15M-Cls, by scanning the caption for
# ImageNet class names and keeping the pairs that name exactly one. Both kinds of text train on
# the same kept images, `real_n_seeds` seeds each, with `open_clip_train` (under `torchrun` with
# `real_gpus` > 0); each epoch's checkpoint is one point, tested as the shapes models are, and
# claim i below is claim h's test on these points. This takes days of GPU time at the paper's
# scale, and neither the data nor a GPU are here, so the published page shows the layout only.
# To run it: `python -m clipbook run feature-sharing --profile paper -p real_data /path/to/DATA`.

# %%
if real_data:
    real_config = imagenet_runs.RealConfig(model=real_model, epochs=real_epochs, batch_size=real_batch_size,
                                           warmup=real_warmup, gpus=real_gpus or None, workers=real_workers)
    real_points = fsi.run_real(real_data, real_pairs or None, real_out, range(first_seed, first_seed + real_n_seeds),
                               real_config, templates=real_prompts)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    plots.logit_lines(real_points, "variant", ax=ax)
    ax.set_title("ImageNet vs. mean over the shifts, every epoch's checkpoint", fontsize="small")
    plt.show()
else:
    print("real_data is empty: the real-data experiment is not part of this run.")

# %% [markdown]
# ## Claims
#
# Each claim is decided by a rule stated before the run ({doc}`../deciding`): *reproduced* when its
# interval clears the threshold in the paper's direction, *not reproduced* only when the interval
# rules out the smallest effect of interest, *undecided* otherwise, with the power of the design
# beside every verdict. Intervals are 95% Student-t intervals over seeds, differences paired by
# seed. "Gain over sharing" is OOD accuracy at the largest `share_prob` minus at `share_prob = 0`,
# per seed: the difference of two such gains removes what sharing does to every method (it weakens
# the attribute as a predictor of the class) and leaves what the annotation adds. The paper reports
# no effect sizes for its linear setting, so the smallest effect of interest is the chapter's own: 2
# accuracy points, the margin within which claim f counts robustness as unchanged (for the
# attribute's share of the class signal, a twentieth of its range).
#
# A claim marked *this book* in the table is the book's own extension of the paper; its verdict
# says nothing about the paper. Claims a9-c9 are claims a-c in the first world (the attribute in
# {glue:text}`varied_share` of its class).
#
# **Seeds.** Ten, from 5000 onwards: a seed set first run after these rules were written. At five
# seeds claims b and c had come out differently on one of four earlier seed sets, so the chapter
# runs ten. Claim c reads the attribute's share of a classifier's signal and claims h and j the gap
# between two fitted lines; each instrument first reads an answer planted in a known construction
# (for the line gap, each experiment's label-only checkpoints copied 2 points higher):

# %%
stats = fs.claim_statistics(results)
label_points = image_sweep.results[image_sweep.results.variant == fsi.LABEL_ONLY]
detail_label_points = detail_sweep.results[detail_sweep.results.variant == fsi.LABEL_ONLY]
instruments = {"attribute share": controls.signal_share_control(n_classes),
               "line gap": controls.line_gap_control(label_points, fs.UNCHANGED_MARGIN,
                                                     fsi.common_id_accuracy(image_sweep.results)),
               "line gap (shared detail)": controls.line_gap_control(detail_label_points, fs.UNCHANGED_MARGIN,
                                                                     fsi.common_id_accuracy(detail_sweep.results))}
decided = fs.sharing_decisions(stats, instruments["attribute share"]) | fs.caption_decisions(stats)
decided["h"] = fs.line_gap_decision(image_stats["caption_line_gap"], instruments["line gap"])
decided["j"] = fs.line_gap_decision(detail_stats["caption_line_gap"], instruments["line gap (shared detail)"])
if first_world:  # the same tests in the first world: claims a9, b9, c9
    decided |= {k + "9": d for k, d in fs.sharing_decisions(fs.sharing_statistics(first_results),
                                                             instruments["attribute share"]).items()}
if real_data:
    decided["i"] = fs.line_gap_decision(fsi.claim_statistics(real_points)["caption_line_gap"], instruments["line gap"])
controls.control_table(instruments)

# %%
ids = ["a", "b", "c"] + (["a9", "b9", "c9"] if first_world else []) + ["d", "e", "f", "g", "h", "j"] + ["i"] * bool(real_data)
claims = ClaimSet("feature-sharing", ids)
source = "Xue et al. 2024, Sec. 4 (inter-class feature sharing)"
first = f" (in the world where the attribute is in {varied_p_spurious:.0%} of its class)"
for suffix, where in [("", "")] + [("9", first)] * first_world:
    claims.add("a" + suffix, "Annotated details shared across classes make MMCL's zero-shot accuracy robust, where "
               f"SL stays reliant on the over-represented feature{where}.", source, decided["a" + suffix])
    claims.add("b" + suffix, "The benefit of sharing comes from the annotation: the detail must be mentioned in "
               f"captions{where}.", source, decided["b" + suffix])
    claims.add("c" + suffix, f"Sharing keeps the detail from standing in for the class{where}.", source,
               decided["c" + suffix])
rich = "Xue et al. 2024, abstract and Sec. 4 (benefit of rich captions)"
kinds = "this book: which kinds of detail help (Xue et al. 2024 compare kinds; their verdicts were not recoverable)"
claims.add("d", "Annotating core details (within-class variation) improves robustness.", kinds, decided["d"],
           origin="book")
claims.add("e", "Annotating a spurious detail that is shared across classes improves robustness.", kinds, decided["e"],
           origin="book")
claims.add("f", "Not every detail helps: a class-independent nuisance detail (background) leaves robustness "
           "unchanged.", kinds, decided["f"], origin="book")
claims.add("g", "Richer captions (all details annotated) are more robust than class-only captions.", rich, decided["g"])
claims.add("h", "CLIP trained with full captions lies on a better ID-vs-OOD line than with label-only text.",
           "Xue et al. 2024, Fig. 2 (CLIP on MSCOCO and Conceptual Captions), here in the shapes world", decided["h"])
claims.add("j", "Where a class's usual detail also appears in other classes and captions name it, CLIP trained with "
           "full captions lies on a better ID-vs-OOD line than with label-only text, under a shift that decorrelates "
           "the detail from the class.", "Xue et al. 2024, Sec. 4 (inter-class feature sharing, the mechanism behind "
           "their Fig. 2), here in images of the shapes world", decided["j"])
if real_data:
    claims.add("i", "CLIP trained on real image-caption data with full captions lies on a better ID-vs-OOD line "
               "than with label-only text.", "Xue et al. 2024, Fig. 2 (CLIP on MSCOCO and Conceptual Captions)",
               decided["i"])

# %% tags=["nbval-check-output"]
claims.finish(enforce=enforce_claims, not_reproduced=not_reproduced, undecided=undecided)[SUMMARY]

# %% [markdown]
# **Rules changed after a result was seen**, each before this chapter's rules took their present
# form (what it was, what it is, why, and the commit):

# %%
claims.history_table()

# %% [markdown]
# ## What it means

# %% tags=["remove-cell"]
final = image_sweep.results[image_sweep.results.step == image_sweep.results.step.max()]
final_id = final.groupby("variant").id_accuracy.mean()
other_sets = records.stored("02_feature_sharing")
prose.say(varied_share=f"{varied_p_spurious:.0%}", background_change=stats["background"],
          h_gap=image_stats["caption_line_gap"], image_steps=image_steps, image_models=2 * n_image_seeds,
          h_other_sets=records.cited(other_sets, "h"), h_recorded_at=records.recorded_at(other_sets),
          detail_classes=len(detail_world.class_names), j_gap=detail_stats["caption_line_gap"],
          j_other_sets=records.cited(other_sets, "j"))
prose.say(digits=2, detail_at=fsi.common_id_accuracy(detail_sweep.results))
prose.say(digits=2, detail_own=1 - image_share)
prose.say(digits=2, full_id=final_id[fsi.FULL], label_id=final_id[fsi.LABEL_ONLY])

# %% [markdown]
# In this linear world, where a detail never leaves its own class, both of the paper's claims about
# sharing reproduce (a-c; seeds 5000 to 5009, a set first run
# after the chapter's rules were written, gave the verdicts of every earlier seed set). A detail
# that is over-represented in one class is a shortcut for every learner as long as it never appears
# anywhere else; once it also appears in other classes *and their captions say so*, contrastive
# training has to give it a direction of its own, and a zero-shot classifier that asks for the class
# alone stops using it. The unannotated control, trained on the very same images, shows that this is
# the captions' doing and not merely the weaker correlation, and the attribute's share of the class
# signal falls further for annotated than for unannotated MMCL (claim c). Among kinds of details,
# those that vary within a class (core details) and those shared across classes (spurious details,
# once shared) help. A class-independent nuisance detail (background) does not leave robustness
# alone: it changes OOD accuracy by {glue:text}`background_change`, so claim f, in its two-sided
# form, is **not reproduced** (the
# claim is this book's; the paper's verdicts on kinds of detail were not recoverable).
#
# **In the first world, claims a-c are not reproduced (a9-c9), in the opposite direction.** There
# the attribute is missing from a tenth of its own class, the captions already tell it apart
# from the class, and annotated MMCL is robust at every `share_prob`; sharing adds nothing to it,
# while it still helps SL and unannotated MMCL a little, so annotated MMCL's gain over sharing is
# the smallest of the three and its attribute share falls less than unannotated MMCL's. This is not
# evidence against the paper's mechanism, which is about details that only sharing can separate
# from the class, but it bounds the claim: where intra-class contrasting can act, it acts first,
# and inter-class sharing is not what makes the difference.
#
# Two caveats belong to the result. First, the mechanism works through the prompt: a prompt that
# mentions the class's usual details (the mean caption) undoes it, and a prompt that mentions no
# detail can turn an annotated detail's vote negative. Real CLIP prompts sit somewhere between,
# which is one reason prompt ensembles matter in practice. Second, the experiment isolates
# inter-class sharing only when the detail never leaves its own class; otherwise intra-class
# contrasting does the job first (the {glue:text}`varied_share` curve).
#
# **The first image experiment does not reproduce the paper's result (claim h).** Trained on the same
# photos, the models with full captions and those with label-only text lie on one line
# ({numref}`fig-ch2-images`): at the ID accuracy both reach, the full captions' line lies
# {glue:text}`h_gap` above the label-only line, which rules out the smallest effect of interest
# (2 points): this is evidence against the claim in this world, not a design too weak to see it
# (the line-gap read-out first found a planted 2-point gap, above). The full captions make CLIP
# learn the class more slowly ({glue:text}`full_id` ID accuracy after {glue:text}`image_steps`
# steps, against {glue:text}`label_id` for label-only text), but not more robustly for a given
# accuracy. Claim j below points to the reason, in the design: the shift here is a change of drawing style, and no
# caption in the narrow training set describes style (every training image is a photo), while the
# details they do describe (colour, size, texture, background, position) are not what the shift
# breaks. In this world the mechanism has nothing to act on, so claim h tests the paper's image
# result, not its mechanism. On the other seed sets (stored records, {glue:text}`h_recorded_at`),
# claim h measured {glue:text}`h_other_sets`; every earlier version of the experiment gave the
# same verdict.
#
# **Where the shift breaks a detail that captions name, the image experiment reproduces (claim j) at
# the default seeds, on a fragile read-out.** With colour a spurious detail of every class, shared
# across classes and named in the full captions, CLIP trained on full captions lies above
# label-only CLIP when colour no longer follows the class ({numref}`fig-ch2-shared-detail`):
# {glue:text}`j_gap` higher at the ID accuracy both reach ({glue:text}`detail_at`), far beyond the
# smallest effect of interest. The label-only line is the steeper of the two, so the gap narrows as
# both models learn the shape itself, which is what the paper's mechanism predicts: the caption
# helps exactly as far as the model would otherwise lean on the detail. The verdict is fragile, and
# the reason is the instrument, not the effect. On the other seed sets (stored records,
# {glue:text}`h_recorded_at`) claim j measured {glue:text}`j_other_sets`: the gap points the same
# way and lies well above the smallest effect of interest every time, but where the claim reads
# undecided the line-gap read-out failed its control
# (it could not find a planted 2-point gap within its tolerance), so the rule calls the claim
# undecided. Full-caption CLIP learns the class slowly, and at three seeds the two families'
# checkpoints overlap in ID accuracy only over a narrow range; where they overlap less, the
# comparison extrapolates a line and its interval widens. More seeds per experiment, or enough
# steps for full-caption CLIP to reach label-only CLIP's accuracies, would make the read-out
# reliable; both cost more than the chapter's five minutes on two cores. Two more limits. This is
# the paper's mechanism in a world built to let it act (a designed spurious detail, captions that
# name it), not evidence that real captions do this for real shifts; and the design that decided
# it is the second one (captions naming only the colour, chosen after the first design, naming
# every detail, could not compare the lines; the rule history records it). The real-data
# version (claim i, MSCOCO or Conceptual Captions against shifted ImageNets) is in the chapter and
# its `paper` profile, but has not been run: there is no such data or GPU where this book is built.
#
# **Rerun it** with other parameters, e.g. a detail that is sometimes missing from its own class,
# `python -m clipbook run feature-sharing -p p_spurious 0.9` (every run but the default reports its
# verdicts without failing on them), or captions that mention a present attribute
# only half of the time, `-p annotate_probs "[0.0, 0.5, 1.0]"`. The `paper` profile runs
# the same world at a larger scale (10 classes, more seeds, samples, dimensions and steps).
