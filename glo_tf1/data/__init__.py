"""Data: the image list and its manifest, the data check, decoding and preprocessing,
queue input pipelines, the decoded-image cache format, CelebA's layout, the embedded faces.

Imports only compat, settings, io and progress (tests/cli/test_layering.py)."""
