"""Data: the image list and its manifest, the data check, decoding and preprocessing,
queue input pipelines, the decoded-image cache format, CelebA's layout, the embedded faces.

Imports only compat, settings and io from above it (tests/test_layering.py)."""
