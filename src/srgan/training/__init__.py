"""Training: typed configuration, the two-stage trainer, checkpoints, distributed set-up."""
