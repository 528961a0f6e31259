"""Request and response models of the inventory API, one file per area."""
