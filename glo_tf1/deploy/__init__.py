"""Deploy: where a run's graph runs, the one stage that knows about hardware (after slim's
deployment/model_deploy.py). devices.py answers the towers' devices, the variables' device,
the inputs' device and the session config, and finds the GPUs (nvidia-smi, the driver, the
CUDA stack); placement.py predicts where TensorFlow places a graph it is given;
precision.py says whether a --precision runs fast on those devices. Training asks it and
passes the devices into the model's functions (model/towers.py), which never ask where
they run. It imports no model code: it places graphs handed to it.
"""
