"""How models are trained: one seeded, resumable loop for stacked models (``loop``), open_clip
towers through it (``stacked``), the losses (``losses``), one big model on real image files
(``image_files``), and the ``open_clip_train`` launcher for runs past one machine (``launcher``)."""

from clipbook.exports import lazy_exports  # noqa: E402

__getattr__, __all__ = lazy_exports(__name__, {
    "TrainConfig": "clipbook.training.loop", "open_clip_train_command": "clipbook.training.launcher",
})
