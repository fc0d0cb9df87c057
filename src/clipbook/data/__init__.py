"""Every world the book trains in, and the real data sets a reader points it at.

- latent worlds for the theory chapters: ``latent`` (core and spurious features), ``details``
  (annotated details shared across classes), ``views`` (paired anisotropic views);
- the procedural image world: ``shapes`` (vocabulary, specs, latents, held-out compositions),
  ``render`` (pixels), ``sdf`` (the shapes' outlines), ``captions`` (text and a word tokenizer),
  ``frequencies`` (class-frequency profiles), ``diversity`` (Chapter 4's narrow and diverse
  distributions), ``joint`` (Chapter 7's world with every mechanism as a knob);
- real data a reader points the book at: ``real`` (image-caption pairs), ``imagenet``
  (ImageNet-style test sets), ``sources`` (what each data set is and where it comes from);
- ``splits``: the one ``Split`` vocabulary (train, id, ood, pretrain) every world uses.
"""

from clipbook.exports import lazy_exports  # noqa: E402

__getattr__, __all__ = lazy_exports(__name__, {
    "SpuriousWorld": "clipbook.data.latent", "DetailWorld": "clipbook.data.details", "ViewSpec": "clipbook.data.views",
    "DiversityWorld": "clipbook.data.diversity", "SharedDetailWorld": "clipbook.data.diversity",
    "test_sets": "clipbook.data.diversity",
    "CompositionWorld": "clipbook.data.compositions", "training_pairs": "clipbook.data.compositions",
    "unseen_compositions": "clipbook.data.compositions", "ImbalanceWorld": "clipbook.data.imbalance",
    "make_shapes": "clipbook.data.render", "loglog_slope": "clipbook.data.frequencies",
    "JointWorld": "clipbook.data.joint",
})
