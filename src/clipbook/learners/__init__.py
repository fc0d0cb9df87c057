"""The learners the book trains, public and tested: batched linear CLIP and supervised models
(:mod:`~clipbook.learners.linear`), and open_clip towers trained on an image world and measured
at every checkpoint (:mod:`~clipbook.learners.towers`)."""
