"""python -m glo_tf1.bench: the same program as glo-bench."""
from glo_tf1.cli import bench

bench.run()
