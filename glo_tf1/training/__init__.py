"""Training: the hooks, the training loop, fault handling, changed-data
remapping, the input-cache build and between-graph replication on a cluster. The
run directory it writes is the format of glo_tf1/rundir/."""
