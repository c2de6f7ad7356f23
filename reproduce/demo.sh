#!/usr/bin/env bash
# The main job end to end on the embedded data (no download): writes the 200 LFW faces
# shipped in scikit-image to data/lfw, trains the `demo` preset into runs/demo (resumes if
# it exists) on all of them but faces 90-99 and their mirror images, which are held out;
# then evaluates on the held-out faces and writes the four figures and the evaluation
# report into figures/demo/, and says where the run and its TensorBoard logs are.
# Environment: DEMO_STEPS (default: the preset's), DEMO_RUN_DIR (default runs/demo),
# DEMO_FIGURES_DIR (default figures/demo), DEMO_EVAL_FLAGS (extra glo_tf1.evaluate flags).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
DATA=data/lfw
RUN="${DEMO_RUN_DIR:-runs/demo}"
SPLIT=data/lfw_split
FIGURES="${DEMO_FIGURES_DIR:-figures/demo}"
python -m glo_tf1.embedded_data --out_dir "$DATA"
mkdir -p "$SPLIT"
(cd "$DATA" && ls) | grep '\.jpg$' | grep -v '^lfw_09' > "$SPLIT/train.txt"
(cd "$DATA" && ls) | grep '\.jpg$' | grep '^lfw_09' > "$SPLIT/heldout.txt"
python -m glo_tf1.train --preset demo --data_dir "$DATA" --file_list "$SPLIT/train.txt" \
  --run_dir "$RUN" ${DEMO_STEPS:+--num_steps "$DEMO_STEPS"}
# shellcheck disable=SC2086
python -m glo_tf1.evaluate --run_dir "$RUN" --data_dir "$DATA" --file_list "$SPLIT/heldout.txt" \
  --max_images 32 --out_dir "$FIGURES" ${DEMO_EVAL_FLAGS:-}
python -m glo_tf1.figures --run_dir "$RUN" --out_dir "$FIGURES"
echo "Run directory: $RUN   TensorBoard: .venv/bin/tensorboard --logdir $RUN"
echo "Figures and evaluation report: $FIGURES"
