"""clipbook: the library behind *Why CLIP generalizes*.

Chapters (``notebooks/``) stay thin and call into this package; everything a chapter computes
lives here, with a unit test.
"""

__version__ = "0.1.0"
