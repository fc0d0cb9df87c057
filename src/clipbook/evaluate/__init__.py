"""Evaluation, one small module per kind of measurement, each with known-answer tests.

- ``classify``: accuracy, frozen image features, the linear probe;
- ``zero_shot``: zero-shot heads from prompt ensembles (linear models, stacked towers, open_clip);
- ``imagenet``: ImageNet-style scoring of real models (logits over image files, per-set rules);
- ``readout``: which latent feature a linear classifier's class signal comes from;
- ``disentanglement``: Z-diff, DCI, MIG, SAP, modularity and explicitness, DCIMIG, RankMe;
- ``robustness``: effective robustness (logit-space baseline fits, bootstrap bands);
- ``spectral``: condition number, effective rank, alignment;
- ``stats``: means with confidence intervals over seeds, paired differences, rank correlations.
"""

from clipbook.exports import lazy_exports  # noqa: E402

__getattr__, __all__ = lazy_exports(__name__, {
    "ci_table": "clipbook.evaluate.stats", "mean_ci": "clipbook.evaluate.stats",
    "equivalence_power": "clipbook.evaluate.stats", "controls": "clipbook.evaluate.controls",
})
