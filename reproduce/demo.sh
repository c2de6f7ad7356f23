#!/usr/bin/env bash
# The main job end to end on the embedded data (no download): writes the 200 LFW faces
# shipped in scikit-image to data/lfw, trains the `demo` preset into runs/demo (resumes if
# it exists), and says where the run and its TensorBoard logs are.
# Environment: DEMO_STEPS (default: the preset's), DEMO_RUN_DIR (default runs/demo).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
DATA=data/lfw
RUN="${DEMO_RUN_DIR:-runs/demo}"
python -m glo_tf1.embedded_data --out_dir "$DATA"
python -m glo_tf1.train --preset demo --data_dir "$DATA" --run_dir "$RUN" \
  ${DEMO_STEPS:+--num_steps "$DEMO_STEPS"}
echo "Run directory: $RUN   TensorBoard: .venv/bin/tensorboard --logdir $RUN"
