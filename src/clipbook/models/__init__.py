"""Models: batched linear encoders for the theory chapters; open_clip towers for the image world."""
