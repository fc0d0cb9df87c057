"""Data generators: latent-variable worlds (theory chapters) and image-caption worlds."""
