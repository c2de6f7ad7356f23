"""Training: the run directory, the hooks, the training loop, fault handling, changed-data
remapping, the input-cache build and between-graph replication on a cluster."""
