# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   clipbook:
#     key_figure: fig-ch6-per-class
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Robustness to class imbalance
#
# **The claim** {cite}`wen2024makes`: web-scale image-text data is long-tailed, a few concepts
# are everywhere and most are rare, yet CLIP trained on it is far less biased towards the
# frequent classes than a supervised classifier trained on the same images. Wen et al. trace this
# to the *task*, not to the text: a CLIP batch contains only some of the classes, so every step is
# a classification among a different, small set of classes ("dynamic classification"), and a rare
# class is rarely pushed down by the frequent ones. Supervised learning that does the same (each
# batch's loss over the classes present plus a few sampled others: *vocabulary subsampling*) loses
# much of its bias. More descriptive captions help further, and a supervised classifier can reach
# CLIP's accuracy on classes it barely saw only with CLIP's text head *and* subsampling.
#
# The chapter tests this with linear models on a world of 100 classes.

# %% tags=["parameters"]
n_seeds: int = 5  # independent seeds (world geometry, class order, data and initialization) {min 2, max 1000}
first_seed: int = 5000  # seeds are first_seed, ..., first_seed + n_seeds - 1 (choose fresh ones to check a result) {min 0, max 1_000_000_000}
n_adjectives: int = 10  # first words of the class names {min 1, max 50}
n_nouns: int = 10  # second words of the class names (every adjective with every noun is a class) {min 1, max 50}
frequency_file: str = ""  # classname<TAB>count file mapped onto the classes by rank ("": a power law with alpha) {input}
alpha: float = 1.0  # power-law exponent of the class frequencies (count of rank r proportional to r^-alpha) {above 0}
n_train: int = 20000  # long-tailed training pairs {min 100, max 2000000}
n_test: int = 20  # balanced test images per class {min 1, max 10000}
embed_dim: int = 16  # shared embedding dimension {min 1, max 4096}
steps: int = 1000  # optimizer steps, the same for every model {min 1, max 1_000_000}
batch_size: int = 64  # pairs per step: a batch holds a few dozen of the 100 classes {min 2, max 65536}
large_batch: int = 1024  # a batch that holds nearly every class: where subsampling should stop mattering {min 2, max 65536}
lr: float = 0.01  # Adam learning rate {above 0}
vocab_sizes: list[int] = [10, 50]  # subsampled vocabularies of supervised learning {min 1, non-empty}
weightings: list[str] = ["uniform", "sqrt", "frequency"]  # how the extra classes of a vocabulary are drawn {non-empty}
n_attributes: int = 10  # visual attributes, one per class and each shared by several, that an informative caption names (claim d) {min 1, max 1000}
attribute_described: float = 1.0  # P(an informative caption names its class's attribute) {min 0, max 1}
descriptive: float = 1.0  # P(a nuisance-detail caption names each detail of its image: claim d's control) {min 0, max 1}
data_fractions: list[float] = [0.03125, 0.0625, 0.125, 0.25, 0.5]  # smaller data sets of the data-scale sweep, as shares of n_train (claim f reads the smallest against all) {above 0, below 1, non-empty}
trim_tail: int = 20  # the rarest classes cut to tail_cap training examples {min 1, max 2500}
n_pretrain: int = 40000  # pairs trim-tail's text tower is pre-trained on (same world, balanced, disjoint from training) {min 100, max 20_000_000}
tail_cap: int = 1  # training examples left to each trimmed class {min 0, max 1_000_000}
tail_share: float = 0.2  # "tail accuracy" averages the rarest share of the classes {above 0, max 1}
open_adjectives: int = 90  # adjectives of open-world classes, trained on and never tested (90 makes ten times the classes, as in Wen et al.'s Fig. 6a) {min 1, max 1000}
open_seeds: int = 20  # seeds of the open-world comparison, from first_seed (more than n_seeds: its paired changes spread by about 0.13) {min 2, max 1000}
enforce_claims: bool = True  # fail the run when a verdict differs from the text (other runs than the default report only)
not_reproduced: list[str] = ["d", "f", "h", "i"]  # the claims this run's text reports as not reproduced
undecided: list[str] = ["e"]  # the claims this run's text reports as undecided

# %% tags=["remove-cell"]
# The values a run gives (the runner, or plain papermill) checked against the cell above.
from clipbook import check_parameters

check_parameters("06_imbalance", globals())

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import pandas as pd

from clipbook import ClaimSet, SUMMARY, TrainConfig, ci_table, controls, plots, prose, records
from clipbook.data import ImbalanceWorld, loglog_slope
from clipbook.experiments import imbalance

plots.set_style()
world = ImbalanceWorld(n_adjectives=n_adjectives, n_nouns=n_nouns, alpha=alpha,
                       profile=frequency_file or "power_law")  # a malformed file fails here, naming the line
imbalance.check_settings(world, n_train=n_train, seed=first_seed, vocab_sizes=vocab_sizes, weightings=weightings,
                         data_fractions=data_fractions, trim_tail=trim_tail, tail_cap=tail_cap,
                         open_adjectives=open_adjectives)
seeds = list(range(first_seed, first_seed + n_seeds))
config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr)
counts = world.counts(n_train, first_seed)
print(f"{world.n_classes} classes; training examples per class from {counts.min()} to {counts.max()} "
      f"(log-log slope {loglog_slope(counts):.2f}; ImageNet-Captions is about -0.4, LAIONet about -1.9)")

# %% [markdown]
# ## The world
#
# Each class is named by two words, an adjective and a noun ("adjective 3 noun 7"), as many
# ImageNet classes share words ("tiger shark", "tiger cat"). A class's mean in the latent space is
# the sum of its two words' vectors plus a part of its own, so classes that share a word look
# alike. An image is a random isometric embedding of its latent (the class mean, details that
# vary within the class, nuisance dimensions) plus noise. A caption is a bag of words: the class
# name, and in the *descriptive* variant words for the details the image shows.
#
# Training counts follow a power law over the classes (or the `frequency_file`, mapped by rank),
# with head and tail shuffled over the classes by the seed; test sets are balanced.
#
# - **CLIP**: a linear image encoder and a linear text encoder over the bag of words, CLIP's loss,
#   a learned temperature. Zero-shot head: the text embeddings of the class names.
# - **SL**: Wen et al.'s CLIP-like supervised learning: the same image encoder, one normalized
#   prototype per class, a learned temperature capped at 100, cross-entropy over all classes.
# - **SL with vocabulary subsampling**: the loss of each batch over the classes present in it,
#   topped up to `vocab_size` classes drawn uniformly, by the square root of their frequency,
#   or by their frequency.
# - **SL on a frozen CLIP head**: the prototypes are CLIP's text embeddings of the class names
#   (from the CLIP model of the same seed) and stay fixed; only the image encoder learns.

# %%
runs = imbalance.variants(vocab_sizes, weightings, world.n_classes)
main = imbalance.run_sweep(world, seeds, runs, n_train=n_train, n_test=n_test, embed_dim=embed_dim, config=config,
                           tail_share=tail_share)
results, per_class = main.results, main.history
palette = plots.category_palette(results.method)
print(f"{len(results)} models trained in {main.seconds:.0f} s")
measures = ["accuracy", "tail_accuracy", "rho_accuracy", "rho_predictions"]
ci_table(results.melt(["method", "seed"], measures, var_name="measure"), "method", "measure", "value",
         bounds=(-1, 1))[measures + ["seeds"]]

# %% [markdown]
# ## Who follows the frequencies
#
# {numref}`fig-ch6-per-class` shows each class's test accuracy against how often it was seen in
# training. `rho_accuracy` in the table above is Spearman's rho of the two; `rho_predictions` is
# the rho of the class's training count with how many test images are *predicted* as that class.
# A model that ignores frequency scores 0 on both.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Per-class test accuracy against the class's training examples (log scale), every class of every seed (faint points) and the mean per frequency bin (lines), for supervised learning, supervised learning with the smallest subsampled vocabulary (frequency-weighted where run) and CLIP's zero-shot head. A flat line is a model that does not favour the frequent classes.", "name": "fig-ch6-per-class"}}
subsampled = [r.name for r in runs if r.vocab_size == min(vocab_sizes) and not r.frozen_head]
subsampled = next((n for n in subsampled if n.endswith("(frequency)")), subsampled[0] if subsampled else None)
fig, ax = plt.subplots(figsize=(7, 4))
plots.per_class_vs_frequency(per_class, [m for m in (imbalance.SL, subsampled, imbalance.CLIP) if m], palette=palette)
plt.show()

# %% [markdown]
# ## Vocabulary subsampling
#
# {numref}`fig-ch6-rho` compares the prediction bias of every method. The paper's values for
# real data are printed beside ours below it.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Spearman's rho of class frequency with per-class accuracy and with prediction counts, per method (mean and 95% interval over seeds). Lower is less biased; CLIP is the reference the subsampled supervised models should approach.", "name": "fig-ch6-rho"}}
fig, ax = plt.subplots(figsize=(9, 4))
plots.points_with_ci(results.melt(["method", "seed"], ["rho_accuracy", "rho_predictions"], var_name="rho of"),
                     "method", "value", "rho of", ax=ax, ylabel="Spearman rho with class frequency")
ax.tick_params(axis="x", labelrotation=30)
for label in ax.get_xticklabels():
    label.set_horizontalalignment("right")
plt.show()

# %%
imbalance.PAPER_RHO

# %% [markdown]
# Wen et al. expect subsampling to matter only while a batch holds a small share of the classes.
# The same supervised models, trained with batches of `large_batch` pairs (nearly every class in
# every batch), test that: subsampling then keeps nearly the whole vocabulary and should change
# little.

# %%
large = imbalance.run_sweep(world, seeds, [r for r in runs if r.name in (imbalance.SL, subsampled)], n_train=n_train,
                            n_test=n_test, embed_dim=embed_dim, config=replace(config, batch_size=large_batch),
                            tail_share=tail_share).results
large.groupby("method")[["accuracy", "rho_predictions"]].mean().round(3)

# %% [markdown]
# ## Descriptive captions
#
# Wen et al. move from class templates to natural metadata (titles, descriptions, tags) that says
# something about the image and its class. Here each class also carries one of `n_attributes`
# visual attributes, each shared by several classes (as "striped" is shared by a tiger, a zebra
# and a bass), and CLIP is trained three times on the same images: on class names only; with a
# word for the class's attribute (with probability `attribute_described`), a description that
# carries information about the class; and, as a control, with words for the nuisance details
# each image shows (with probability `descriptive`), a description that carries none. The
# zero-shot prompts name the class only, as Wen et al.'s templates do.

# %%
captions = imbalance.caption_sweep(world, seeds, n_attributes=n_attributes, attribute_described=attribute_described,
                                   descriptive=descriptive, n_train=n_train, n_test=n_test, embed_dim=embed_dim,
                                   config=config, tail_share=tail_share)
captions.groupby("captions", sort=False)[measures].mean().round(3)

# %% [markdown]
# ## Data scale
#
# Wen et al. train on 1/32 to all of their data and read how CLIP's per-class accuracy follows
# class frequency at each scale (their Fig. 5b). Here CLIP and SL train again on each of
# `data_fractions` of the training pairs (the same long-tailed profile, the same steps), each set's
# correlation read against its own class counts; {numref}`fig-ch6-scale` shows both correlations
# against the data size.

# %%
smaller = imbalance.scale_sweep(world, seeds, data_fractions, n_train=n_train, n_test=n_test, embed_dim=embed_dim,
                                config=config, tail_share=tail_share)
scale = pd.concat([results[results.method.isin([imbalance.CLIP, imbalance.SL])].assign(fraction=1.0), smaller])
ci_table(scale.assign(data=scale.fraction.map("{:g}".format)), "data", "method", "rho_accuracy",
         bounds=(-1, 1)).rename_axis("rho(frequency, accuracy) at data share")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Spearman's rho of class frequency with per-class accuracy (left) and with prediction counts (right) against the share of the training pairs each model saw (log scale; 1 is the main sweep's data), for CLIP and SL (mean and 95% interval over seeds). Claim f reads CLIP's left-hand curve from its smallest data set to all of it: a falling curve is a model that follows frequency less as its data grow.", "name": "fig-ch6-scale"}}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
for ax, measure in zip(axes, ["accuracy", "predictions"]):
    plots.lines_with_ci(scale, "fraction", f"rho_{measure}", "method", ax=ax, xlabel="share of the training pairs",
                        ylabel=f"rho(frequency, {measure})", palette=palette)
    ax.set_xscale("log", base=2)
plt.show()

# %% [markdown]
# ## Open-world concepts
#
# Wen et al. train on ImageNet-Captions' 100-class subset and on a sample of the same size that
# covers all 1,000 classes, and test both on the 100 classes (their Fig. 6a). Here the world gains
# `open_adjectives` adjectives, each naming a class with every noun: classes that are trained on
# and never tested. CLIP and SL train on `n_train` pairs drawn over all the classes with the same
# long-tailed profile (so the tested classes get fewer pairs than before), and are scored among
# the tested classes only, against their own training counts.

#
# The comparison is paired by seed (the same tested classes, frequencies and test images in both
# worlds), and it runs on `open_seeds` seeds, more than the chapter's others: on earlier seed sets
# the paired change of rho spread by about 0.13 between seeds, so five seeds had a power of about
# 0.3 at the smallest change of interest (0.1); twenty have about 0.9 at that spread.

# %%
open_world = replace(world, open_adjectives=open_adjectives)
pair = [imbalance.Variant(imbalance.CLIP), imbalance.Variant(imbalance.SL)]
closed, opened = (imbalance.run_sweep(w, range(first_seed, first_seed + open_seeds), pair, n_train=n_train,
                                      n_test=n_test, embed_dim=embed_dim, config=config, tail_share=tail_share).results
                  for w in (world, open_world))
concepts = pd.concat([closed.assign(classes="tested only"),
                      opened.assign(classes=f"with {open_world.n_trained_classes - world.n_classes} open-world")])
for measure, bounds in (("rho_predictions", (-1, 1)), ("accuracy", (0, 1))):
    display(ci_table(concepts, "classes", "method", measure, bounds=bounds).rename_axis(measure))

# %% [markdown]
# ## Trim-tail
#
# Wen et al. (Sec. 4.1, Fig. 8) cut the rarest classes of ImageNet-Captions to one example (or
# none) and find that a CLIP trained from scratch *fails* on them, while a CLIP whose text encoder
# was pre-trained (OpenAI's, locked) recognizes them; supervised learning reaches that CLIP's level
# only with the pre-trained encoder's embeddings of the class names as its head *and* vocabulary
# subsampling (the head alone barely helps). Here the rarest `trim_tail` classes keep `tail_cap`
# training examples each. The pre-trained text tower comes from a CLIP trained on `n_pretrain`
# pairs of the same world, balanced over its classes and disjoint from the training data: the
# analogue of a text encoder pre-trained on the web, which has seen every class's name. Five arms
# train on the trimmed data: CLIP from scratch, CLIP with the pre-trained text tower locked, SL
# with a learned head, SL on the pre-trained head, and SL on the pre-trained head with the
# smallest subsampled vocabulary.
#
# Two worlds, with the same images: one where every class is named by a word of its own, as most
# ImageNet classes are, so that only a pre-trained text tower knows a trimmed class's name (the
# paper's claims are tested there); and the chapter's own, where class names share words, so that
# a trimmed class's two words occur in the captions of frequent classes (the book's question:
# whether shared words alone let a CLIP from scratch reach the trimmed classes).

# %%
trim_worlds = {imbalance.OWN_WORDS: replace(world, trim_tail=trim_tail, tail_cap=tail_cap, shared_words=False),
               imbalance.SHARED_WORDS: replace(world, trim_tail=trim_tail, tail_cap=tail_cap)}
trim_weighting = "frequency" if "frequency" in weightings else weightings[0]
trimmed = pd.concat([imbalance.trimmed_accuracy(imbalance.trim_sweep(
    w, seeds, vocab_size=min(vocab_sizes), weighting=trim_weighting, n_pretrain=n_pretrain, n_train=n_train,
    n_test=n_test, embed_dim=embed_dim, config=config, tail_share=tail_share).history, w).assign(names=names)
    for names, w in trim_worlds.items()], ignore_index=True)
ci_table(trimmed, "method", "names", "accuracy", bounds=(0, 1)).rename_axis("accuracy on the trimmed classes")

# %% [markdown]
# ## At the paper's scale
#
# Wen et al. train a ResNet-50 as CLIP and as CLIP-like SL on ImageNet-Captions and LAIONet
# (AdamW, learning rate 1e-3, cosine schedule, 500 warm-up steps, batches of 1024, 32 epochs) and
# score per-class accuracy on ImageNet val against the class frequencies shipped with the book.
# The CLIP side is `open_clip_train` on an image-caption CSV (`filepath,caption`, which
# `clipbook.data.real` checks); on eight GPUs the command is:

# %%
import shlex

from clipbook.training import open_clip_train_command

print(shlex.join(open_clip_train_command("DATA/imagenet_captions.csv", model="RN50", logs="runs/wen2024",
                                         name="clip-rn50-imagenet-captions", nproc_per_node=8, batch_size=128,
                                         epochs=32, lr=1e-3, warmup=500, workers=8)))

# %% [markdown]
# The supervised twin trains with `clipbook.training.image_files.train_classifier` on the same
# images and their labels (Chapter 4 runs both for Fang et al.); vocabulary subsampling at that
# scale is not implemented for image files yet, and we have run none of this (it needs the data
# and GPUs). `clipbook.evaluate.imbalance.frequency_correlations` scores any model's confusion
# matrix against a frequency file.

# %% [markdown]
# ## Claims
#
# Each test was written before the chapter's default run, from the paper's claims, and is decided
# in the book's three-way form ({doc}`../deciding`): *reproduced* when the 95% Student-t interval
# (paired by seed) clears the threshold, *not reproduced* only when it rules out the smallest effect
# of interest, *undecided* otherwise, with the power of the design beside every verdict. For claim
# a the smallest effects are Wen et al.'s own, the smallest SL - CLIP gap they report over their
# three data sets ({glue:text}`smallest_accuracy` for accuracy, {glue:text}`smallest_predictions`
# for predictions, on LAIONet); elsewhere the paper gives no number, and the smallest change of a
# rank correlation of interest is {glue:text}`rho_smallest`, of accuracy 2 points.
#
# - (a) CLIP's per-class accuracy *and* its prediction counts correlate less with class frequency
#   than SL's: both differences SL - CLIP have intervals above 0.
# - (b) Vocabulary subsampling reduces SL's prediction bias: rho of prediction counts, SL minus SL
#   with the smallest vocabulary (frequency-weighted where run), interval above 0.
# - (c) The effect fades when batches hold most classes: (b)'s reduction at `batch_size` minus
#   the same reduction at `large_batch`, interval above 0.
# - (d) More descriptive captions lower CLIP's prediction bias *and* raise its accuracy: both
#   differences (captions naming the class's attribute against class names only, on the same
#   images) have intervals on the right side of 0.
# - (e) Trim-tail, in the world of names of their own: on the trimmed classes, SL on the
#   pre-trained head with subsampling is not worse than CLIP with the pre-trained text tower by
#   more than {glue:text}`tail_margin` (the lower bound of its difference to that CLIP above minus
#   {glue:text}`tail_margin`), while SL on the pre-trained head alone is below that CLIP (its
#   difference's interval below 0).
# - (j) There, CLIP trained from scratch fails on the trimmed classes: CLIP with the pre-trained
#   text tower minus CLIP from scratch, trimmed-class accuracy, interval above 0 (smallest effect
#   5 points; Wen et al.'s plot shows about ten to fifteen).
# - (k) The book's: names that share words let CLIP from scratch reach the trimmed classes: its
#   trimmed-class accuracy where names share words minus where they are words of their own,
#   paired by seed, interval above 0 (smallest effect 5 points).
# - (f) More data lowers CLIP's frequency bias, as Wen et al. read it (their Fig. 5b): rho of
#   class frequency with per-class accuracy on the smallest of `data_fractions` minus on all of the
#   data, for CLIP, interval above 0.
# - (i) The book's addition to (f): it falls more for CLIP than for SL (CLIP's fall minus SL's,
#   interval above 0). Rule changes since the first published run are shown with the claims.
# - (g) At the same number of training pairs, spreading them over open-world concepts (ten
#   times the classes) lowers CLIP's prediction bias on the tested classes: rho of predictions
#   trained on the tested classes only minus with the open-world classes, paired by seed over
#   `open_seeds` seeds, interval above 0.
# - (h) The same for SL (Wen et al. find that both gain in this setting; SL cannot use concepts
#   that carry no label at all, their Fig. 6b, which needs no experiment).
#
# Every claim but e reads a frequency correlation, which first reads two simulated classifiers on
# this run's class frequencies, one biased towards frequent classes by construction and one fair.
#
# **Seeds.** Five, from 5000 onwards: a seed set first run after these rules were written.

# %%
instruments = {"frequency correlation": controls.frequency_correlation_control(counts, n_test)}
decided = imbalance.decide(results, large, captions, trimmed, scale, closed, opened, subsampled,
                           instruments["frequency correlation"])
controls.control_table(instruments)

# %%
claims = ClaimSet("imbalance", "abcdefghijk")
source = "Wen et al. 2024"
claims.add("a", "CLIP's per-class accuracy and prediction counts follow class frequency less than SL's.",
           f"{source}, Fig. 1b and Fig. 11", decided["a"])
claims.add("b", "Vocabulary subsampling lowers supervised learning's prediction bias.", f"{source}, Sec. 3",
           decided["b"])
claims.add("c", "Subsampling stops mattering when batches hold most classes.",
           f"this book (an inference from {source}, Sec. 3: a batch that holds every class is a static vocabulary)",
           decided["c"], origin="book")
claims.add("d", "More descriptive captions lower CLIP's prediction bias and raise its accuracy.", f"{source}, Sec. 3",
           decided["d"])
claims.add("e", "On trimmed tail classes, SL needs a pre-trained text head and subsampling to match CLIP with a "
           "pre-trained text tower.", f"{source}, Sec. 4.1 (Fig. 8, App. C.4)", decided["e"])
claims.add("f", "More data lowers how much CLIP's per-class accuracy follows class frequency.",
           f"{source}, Sec. 3 (Fig. 5b)", decided["f"])
for letter, m in (("g", imbalance.CLIP), ("h", imbalance.SL)):
    claims.add(letter, f"Open-world concepts lower {m}'s prediction bias at the same data size.",
               f"{source}, Sec. 3.6 (Fig. 6a)", decided[letter])
claims.add("i", "More data lowers that correlation more for CLIP than for SL.",
           f"this book (an addition to {source}'s Fig. 5b)", decided["i"], origin="book")
claims.add("j", "CLIP trained from scratch fails on trimmed tail classes, where CLIP with a pre-trained text tower "
           "does not.", f"{source}, Sec. 4.1 (Fig. 8)", decided["j"])
claims.add("k", "Class names that share words let CLIP from scratch reach trimmed tail classes.",
           f"this book (why this world's CLIP from scratch can do what {source}'s Fig. 8 finds it cannot)",
           decided["k"], origin="book")

# %% tags=["nbval-check-output"]
claims.finish(enforce=enforce_claims, not_reproduced=not_reproduced, undecided=undecided)[SUMMARY]

# %% [markdown]
# ## What it means

# %% tags=["remove-cell"]
CLIP, SL, smallest = imbalance.CLIP, imbalance.SL, min(data_fractions)
rhos, methods = ["rho_accuracy", "rho_predictions", "accuracy"], {CLIP: "clip", SL: "sl"}
prose.say(digits=2, **prose.means(results, "method", rhos, methods | {subsampled: "subsampled"}, "main"),
          **prose.means(captions, "captions", rhos, {imbalance.NAMES: "names", imbalance.INFORMATIVE: "informative",
                                                     imbalance.NUISANCE: "nuisance"}),
          **prose.means(scale[scale.fraction == smallest], "method", ["rho_accuracy"], methods, "smallest"),
          **prose.means(closed, "method", rhos, methods, "closed"),
          **prose.means(opened, "method", rhos, methods, "open"))
prose.say(**prose.means(large, "method", ["rho_predictions"], {SL: "sl", subsampled: "subsampled"}, "large"))
arms = {imbalance.SCRATCH: "scratch", imbalance.LOCKED: "locked", SL: "sl", imbalance.PRETRAINED: "pretrained",
        imbalance.pretrained_subsampled(min(vocab_sizes)): "pretrained_sub"}
tails = {**prose.means(trimmed[trimmed.names == imbalance.OWN_WORDS], "method", ["accuracy"], arms, "own"),
         **prose.means(trimmed[trimmed.names == imbalance.SHARED_WORDS], "method", ["accuracy"], arms, "shared")}
prose.say(**{name: f"{value:.0%}" for name, value in tails.items()})

# %% tags=["remove-cell"]
ev, fall, gain = prose.evidence, "CI of the fall in rho of predictions", "CI of the accuracy gain"
other_sets = records.stored("06_imbalance")
prose.say(a_accuracy=ev(decided["a"], "CI of rho(SL) - rho(CLIP), accuracy"), d_bias=ev(decided["d"], fall),
          a_predictions=ev(decided["a"], "CI of rho(SL) - rho(CLIP), predictions"), d_accuracy=ev(decided["d"], gain),
          f_fall=ev(decided["f"]), i_difference=ev(decided["i"]), g_fall=ev(decided["g"]), h_fall=ev(decided["h"]),
          recorded_at=records.recorded_at(other_sets), d_bias_sets=records.cited(other_sets, "d", fall),
          d_accuracy_sets=records.cited(other_sets, "d", gain),
          **{f"{claim}_sets": records.cited(other_sets, claim) for claim in "efghi"})
prose.say(j_gain=ev(decided["j"]), k_gain=ev(decided["k"]), e_subsampled=ev(decided["e"], 0),
          e_alone=ev(decided["e"], 1), e_why=decided["e"].why or "decided")

# %% tags=["remove-cell"]
prose.say(seed_range=prose.seed_range(first_seed, n_seeds), open_range=prose.seed_range(first_seed, open_seeds),
          batch_size=batch_size, large_batch=large_batch, n_classes=world.n_classes, trim_tail=trim_tail,
          tail_cap=tail_cap, smallest_share=f"1/{round(1 / smallest)}", n_train=f"{n_train:,}",
          smallest_pairs=f"{imbalance.scaled_size(n_train, smallest):,}",
          open_classes=f"{open_world.n_trained_classes - world.n_classes:,}")
rules, paper = imbalance.claim_rules(), imbalance.PAPER_RHO.loc["ImageNet-Captions"]
prose.say(digits=2, smallest_accuracy=rules["accuracy_bias"].smallest, rho_smallest=f"{imbalance.RHO_SMALLEST:g}",
          smallest_predictions=rules["prediction_bias"].smallest, tail_margin=f"{-rules['matches'].threshold:g}",
          **{f"paper_{m}": f"{paper[f'{m} SL']:.2f} / {paper[f'{m} CLIP']:.2f}" for m in ("accuracy", "predictions")})

# %% [markdown]
# **The paper's claims about the task reproduce (dynamic classification, subsampling, and a CLIP
# from scratch failing on trimmed tail classes that a pre-trained text tower reaches), and so do
# the book's claims that subsampling fades at large batches and that class names sharing words let
# a CLIP from scratch reach the trimmed classes; whether supervised learning needs subsampling on
# top of a pre-trained head to match that CLIP is undecided (trim-tail, e). Of the claims about the
# data, one reproduces on the default seeds (open-world concepts lower CLIP's bias; its other seed
# sets are below) and three are not reproduced (descriptive captions, which lower CLIP's bias but
# cost it accuracy; more data; open-world concepts for SL); nor is the book's addition that more
# data helps CLIP more than SL: here it is SL that gains.** The numbers below are the default run's
# (seeds {glue:text}`seed_range`, and {glue:text}`open_range` for the open-world comparison: sets
# first run after the rules were written); those of the other seed sets come from their stored
# records ({glue:text}`recorded_at`).
#
# *Dynamic classification.* Trained on the same long-tailed data, SL's per-class accuracy and
# prediction counts follow class frequency (rho {glue:text}`main_sl_rho_accuracy` and
# {glue:text}`main_sl_rho_predictions`); CLIP's much less ({glue:text}`main_clip_rho_accuracy` and
# {glue:text}`main_clip_rho_predictions`). These are close to Wen et al.'s ImageNet-Captions figures
# ({glue:text}`paper_accuracy` for accuracy, SL / CLIP, and {glue:text}`paper_predictions` for
# predictions), though nothing was tuned to match them; the differences ({glue:text}`a_accuracy`
# and {glue:text}`a_predictions`) clear zero and reach the smallest gaps Wen et al. report
# ({glue:text}`smallest_accuracy` and {glue:text}`smallest_predictions`, on LAIONet). Restricting each batch's loss to the classes
# present in it lowers SL's prediction bias (rho {glue:text}`main_sl_rho_predictions` to
# {glue:text}`main_subsampled_rho_predictions`), at almost no cost in accuracy. With a batch of
# {glue:text}`batch_size` pairs a batch holds a few dozen of the {glue:text}`n_classes` classes, so
# the smallest vocabulary keeps exactly the classes present. That is why the three weightings give
# identical models at that size; they differ only at the larger vocabulary. With batches of
# {glue:text}`large_batch` pairs, every batch holds nearly every class. Subsampling then changes
# almost nothing (rho {glue:text}`large_subsampled_rho_predictions` against {glue:text}`large_sl_rho_predictions`), as the
# dynamic-classification account predicts (claim c, the book's inference).
#
# *Trim-tail* (e, j, k). In the world where every class is named by a word of its own, with the
# {glue:text}`trim_tail` rarest classes cut to {glue:text}`tail_cap` training example each, CLIP
# from scratch recognizes them {glue:text}`own_scratch_accuracy` of the time and CLIP with the
# pre-trained text tower {glue:text}`own_locked_accuracy`: the pre-trained tower is worth
# {glue:text}`j_gain` (claim j, **reproduced**: CLIP from scratch fails on the classes it has
# barely seen, as in Wen et al.'s Fig. 8). SL recognizes them {glue:text}`own_sl_accuracy` of the
# time, on the pre-trained head {glue:text}`own_pretrained_accuracy`, and with the head *and*
# subsampling {glue:text}`own_pretrained_sub_accuracy`. Subsampling brings SL to the locked CLIP's
# level (a difference of {glue:text}`e_subsampled`), as the paper finds; but the head alone already
# comes close ({glue:text}`e_alone`), where Wen et al. find that it barely helps, and claim e is
# *undecided*: {glue:text}`e_why`. On the other seed sets it measured {glue:text}`e_sets`. One
# reason the head alone does better here: the pre-trained
# tower learned on a balanced corpus of this very world, a closer fit to its classes than OpenAI's
# encoder is to ImageNet's.
#
# Where class names share words, CLIP from scratch recognizes the trimmed classes
# {glue:text}`shared_scratch_accuracy` of the time, {glue:text}`k_gain` more than where names are
# words of their own (claim k, the book's, **reproduced**): a trimmed class's words occur in the
# captions of frequent classes, so this world's shared words carry what the paper's CLIP gets only
# from a pre-trained encoder. That is why the chapter's first design, in this world and with the
# head of a CLIP trained on the same data, found CLIP strong on the trimmed classes and read its
# advantage as its text side's (the rule history of claim e shows the change).
#
# *Descriptive captions* (d) are **not reproduced**, in their new form: captions that name the
# class's visual attribute, a word several classes share. The first half of the claim holds on
# the default seeds: CLIP trained on them follows class frequency much less (rho of predictions
# {glue:text}`informative_rho_predictions` against {glue:text}`names_rho_predictions`, a fall of
# {glue:text}`d_bias`; rho of accuracy {glue:text}`informative_rho_accuracy` against
# {glue:text}`names_rho_accuracy`); on the other seed sets the fall measured
# {glue:text}`d_bias_sets`. The second half fails: it is *less* accurate here
# ({glue:text}`informative_accuracy` against {glue:text}`names_accuracy`; {glue:text}`d_accuracy`),
# which rules out the 2-point gain the claim needs, and on the other seed sets the gain measured
# {glue:text}`d_accuracy_sets`. The control, captions that name nuisance details, is worse on both
# counts ({glue:text}`nuisance_accuracy` accuracy, rho of predictions
# {glue:text}`nuisance_rho_predictions`). So a description that carries class information does
# what Wen et al. report for bias, a description that carries none does not, and in this world
# neither raises zero-shot accuracy: the prompts name the class only, and the attribute's word,
# which the captions taught CLIP to look for, is not in them. (The first design of this claim
# described nuisance details only, a different construct; it was not reproduced either, and the
# rule change is shown with the claim.)
#
# *More data* (f) is **not reproduced** either, read as Wen et al. read it (their Fig. 5b). From
# {glue:text}`smallest_share` of the pairs ({glue:text}`smallest_pairs`) to all
# {glue:text}`n_train`, CLIP's per-class accuracy follows class frequency no less
# ({numref}`fig-ch6-scale`: rho {glue:text}`smallest_clip_rho_accuracy` at {glue:text}`smallest_share`,
# {glue:text}`main_clip_rho_accuracy` with all the data; the fall is {glue:text}`f_fall`, which rules out the
# change of a tenth the claim would need). SL's correlation is the one that falls, from
# {glue:text}`smallest_sl_rho_accuracy` to {glue:text}`main_sl_rho_accuracy`, so the book's addition (i), that CLIP gains more
# than SL, is ruled out with it (CLIP's fall minus SL's, {glue:text}`i_difference`). In this world
# CLIP's low bias is already there at the smallest data set, where SL's is at its highest: more data
# is what SL needs to approach CLIP, not what makes CLIP robust. Whatever more data does for CLIP at
# web scale, it is not visible at this one. The verdict on f is seed-fragile: on the other seed
# sets CLIP's fall measured {glue:text}`f_sets`, and claim i {glue:text}`i_sets`. (The first design
# of this claim, rho of predictions at 1/8 of the data, was not reproduced either; the rule change
# is shown with the claim.)
#
# *Open-world concepts* (g, h). With the same {glue:text}`n_train` pairs spread over ten times the
# classes ({glue:text}`open_classes` open-world classes that are never tested), CLIP's prediction
# bias on the tested classes falls, from {glue:text}`closed_clip_rho_predictions` to
# {glue:text}`open_clip_rho_predictions`: the fall, {glue:text}`g_fall` over the paired seeds,
# clears zero, so (g) is **reproduced** on the default seeds. On the other seed sets it measured
# {glue:text}`g_sets`, so the verdict depends on the seeds; where the fall clears zero, its mean
# stays below the change of a tenth of the correlation's range taken as the smallest that matters.
# SL's bias *rises*, from
# {glue:text}`closed_sl_rho_predictions` to {glue:text}`open_sl_rho_predictions`
# ({glue:text}`h_fall`), which rules out the fall the claim needs: (h) is **not reproduced**; on the
# other seed sets, {glue:text}`h_sets`. Both models lose accuracy on the tested classes (CLIP
# {glue:text}`closed_clip_accuracy` to {glue:text}`open_clip_accuracy`, SL
# {glue:text}`closed_sl_accuracy` to {glue:text}`open_sl_accuracy`), since those classes now get a
# tenth of the pairs; CLIP's text side shares words between the tested and the open-world classes,
# SL's label head has a separate row for each class and nothing to share. These verdicts come from
# the design that issue 29 asked for, written before it ran; under the chapter's first design
# (twice the classes, five seeds) CLIP's change was undecided and SL's fall was reproduced. The
# rule changes are shown with the claims.
#
# Where this world differs from the paper: CLIP here is less accurate than SL overall
# ({glue:text}`main_clip_accuracy` against {glue:text}`main_sl_accuracy`), and its text encoder is a bag of words.
