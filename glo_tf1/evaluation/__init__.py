"""Evaluation: loading a trained run, the generation graph, fitting codes to images,
reports, figures, loss curves and FID."""
