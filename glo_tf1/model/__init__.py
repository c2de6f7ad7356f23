"""Model: GLO itself. The codes table (codes.py), the decoders (decoders/, one module each),
the losses, the optimizers, the samplers, code fitting with the decoder frozen (fitting.py)
and the multi-tower training graph (towers.py). Pure graph construction: nothing here opens
a session, and nothing here knows the hardware: where things run is given to it
(deploy/devices.deployment), as slim's model_deploy gives its clones their devices.
"""
