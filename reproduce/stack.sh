# Sourced by reproduce/env.sh: which pinned TensorFlow stack this machine gets.
#   GLO_DEVICE=auto (default)  the GPU stack when `nvidia-smi -L` lists a GPU, else the CPU one
#   GLO_DEVICE=gpu | cpu       that stack, whatever nvidia-smi says
# glo_pick_stack sets GLO_STACK (cpu or gpu), GLO_STACK_REASON (why, for the user),
# GLO_REQUIREMENTS (the pinned file) and GLO_STACK_VENV (the venv's default folder name,
# .venv for both).
# Both stacks share one venv and one TensorFlow wheel (`tensorflow`, which runs on CPUs);
# the GPU one adds the CUDA libraries (requirements-gpu.txt).
glo_pick_stack() {
  local listed
  case "${GLO_DEVICE:-auto}" in
    cpu|gpu)
      GLO_STACK="$GLO_DEVICE"
      GLO_STACK_REASON="GLO_DEVICE=$GLO_DEVICE"
      ;;
    auto)
      if ! command -v nvidia-smi >/dev/null 2>&1; then
        GLO_STACK=cpu
        GLO_STACK_REASON="no nvidia-smi on PATH (set GLO_DEVICE=gpu to override)"
      else
        listed="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)"
        if [ "${listed:-0}" -gt 0 ]; then
          GLO_STACK=gpu
          GLO_STACK_REASON="nvidia-smi -L lists $listed GPU(s) (GLO_DEVICE=cpu to override)"
        else
          GLO_STACK=cpu
          GLO_STACK_REASON="nvidia-smi -L lists no GPU (set GLO_DEVICE=gpu to override)"
        fi
      fi
      ;;
    *)
      echo "GLO_DEVICE=$GLO_DEVICE: expected auto, cpu or gpu" >&2
      return 2
      ;;
  esac
  if [ "$GLO_STACK" = gpu ]; then
    GLO_REQUIREMENTS=requirements-gpu.txt
  else
    GLO_REQUIREMENTS=requirements.txt
  fi
  GLO_STACK_VENV=.venv
}
