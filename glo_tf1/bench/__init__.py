"""The benchmark (benchmark.py); `python -m glo_tf1.bench` runs it (cli/bench.py)."""
