"""Model: the codes table, the post's decoder, the losses, the optimizers, the samplers and
the multi-tower training graph. Pure graph construction: nothing here opens a session.
"""
