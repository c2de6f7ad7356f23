"""Choices of the other programs' flags (generation, evaluation, FID, comparison, the
cluster), kept here so that the command-line layer can list them without importing
TensorFlow, and the modules that implement them name theirs from these."""

SAMPLERS = ('unit', 'fitted', 'full')
INTERPOLATIONS = ('nlerp', 'slerp')
FID_METHODS = ('sqrtm', 'eigh')
FID_PROTOCOLS = ('ours', 'glann')  # evaluation/fid/stats.py PROTOCOLS
COMPARE_FORMATS = ('markdown', 'latex', 'csv')
# Where glo-train finds its cluster (training/resolvers.py resolves each).
CLUSTER_SOURCES = ('auto', 'flags', 'tf_config', 'slurm')
