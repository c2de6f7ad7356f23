"""The benchmark; `python -m glo_tf1.bench` runs it (cli/bench.py).

  flops.py      the decoder's FLOPs, counted from its graph
  harness.py    sizes, sessions as training sets them up, synthetic inputs, timed runs
  inputs.py     synthetic JPEG files, their cache, the input pipelines' rates alone
  memory.py     peak resident memory, one subprocess per number of codes
  table.py      the Markdown table renderer of every report
  full.py, precision.py, towers.py, placement.py, presets.py: one module per --mode,
                each with run(...) -> results and table(results) -> Markdown
  estimate.py   a run's duration from the committed bench reports
"""
