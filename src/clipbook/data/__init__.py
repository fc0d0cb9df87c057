"""Every world the book trains in, and the real data sets a reader points it at.

- latent worlds for the theory chapters: ``latent`` (core and spurious features), ``details``
  (annotated details shared across classes), ``views`` (paired anisotropic views);
- the procedural image world: ``shapes`` (vocabulary, specs, latents, held-out compositions),
  ``render`` (pixels), ``sdf`` (the shapes' outlines), ``captions`` (text and a word tokenizer),
  ``frequencies`` (class-frequency profiles), ``diversity`` (Chapter 4's narrow and diverse
  distributions);
- ``real``: loaders for real image-text and ImageNet-style data;
- ``splits``: the one ``Split`` vocabulary (train, id, ood) every world uses.
"""
