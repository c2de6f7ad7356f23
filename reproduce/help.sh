# Sourced first by every script of reproduce/: with -h or --help as its first argument,
# prints the script's header comment (its usage, arguments and environment) and exits 0,
# before anything is installed or run.
#   source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
case "${1:-}" in
  -h|--help)
    awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' \
      "${BASH_SOURCE[1]}"
    exit 0 ;;
esac
