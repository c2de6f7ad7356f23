# Sourced by the scripts of reproduce/ that write into a folder the user names (seeds.sh,
# demo.sh): nothing of the user's is deleted or overwritten (issue 31). The caller sets
# MARK (the record's file name), OWNED_BY (its name, for messages) and OWNED_HINT (what
# to do instead). Each output folder holds MARK, the list of the names (files and
# folders) the script created in it, each recorded before it is made. A name is written
# only when it is listed or absent (`claim`); a folder is used only when it is new, empty
# or marked (`own_dir`), so an output variable naming $HOME is refused, not written into.
# --publish (`clear_dir`) removes exactly the listed names, and refuses, listing them,
# when anything else is in the folder (a file the user added later, as a thesis).
refuse() { echo "$OWNED_BY: $*" >&2; exit 2; }
listed() { [ -f "$1/$MARK" ] && tail -n +2 "$1/$MARK" | grep -qxF -- "$2"; }
# The entries of folder $1 that are neither MARK nor listed in it, one a line.
strangers() {
  local entry
  for entry in "$1"/.[!.]* "$1"/..?* "$1"/*; do
    { [ -e "$entry" ] || [ -L "$entry" ]; } || continue
    entry="${entry##*/}"
    [ "$entry" = "$MARK" ] || listed "$1" "$entry" || echo "$entry"
  done
}
# Makes $1 this script's output folder: new or empty (then marked), marked before, or
# written by an earlier version of the script, before MARK listed names (`adopt`).
own_dir() {
  if has_list "$1"; then return; fi
  if [ -e "$1" ] || [ -L "$1" ]; then
    if [ -d "$1" ] && [ ! -L "$1" ] && [ -n "$(ls -A "$1")" ] && adopt "$1"; then return; fi
    [ -d "$1" ] && [ -z "$(ls -A "$1")" ] || refuse "$1 exists and was not written by" \
      "$OWNED_BY (no $MARK listing names in it; it holds: $(strangers "$1" | head -5 |
      paste -sd' ' -))$(run_dir_hint "$1"); nothing was written there. $OWNED_HINT"
  fi
  mkdir -p "$1"
  new_mark "$1"
}
# Whether $1 holds a MARK of names (the first MARK, one line, listed none).
has_list() { [ -f "$1/$MARK" ] && [ "$(head -c 12 "$1/$MARK")" = '# reproduce/' ]; }
new_mark() {
  echo "# reproduce/$OWNED_BY created these names in this folder;" \
    "--publish removes only them" > "$1/$MARK"
}
run_dir_hint() {
  if is_run_dir "$1"; then
    echo " (a glo-tf1 run directory itself, as an early $OWNED_BY wrote: move it aside," \
      "e.g. mv $1 $1-old)"
  fi
}
# An output folder of an earlier version of the script, from before MARK listed names
# (none, or the one line of the first MARK): adopted, its names listed, only when every
# entry is one the script makes and is recognisably its own by content (`ours NAME`, the
# caller's: a run directory with glo-tf1's config.json and manifest.tsv, a report, the
# embedded faces, a table). Anything else in it, and it is refused as before.
adopt() {
  local entry names=()
  for entry in "$1"/.[!.]* "$1"/..?* "$1"/*; do
    { [ -e "$entry" ] || [ -L "$entry" ]; } || continue
    entry="${entry##*/}"
    [ "$entry" = "$MARK" ] && continue
    [ ! -L "$1/$entry" ] && ours "$1" "$entry" || return 1
    names+=("$entry")
  done
  new_mark "$1"
  [ "${#names[@]}" -gt 0 ] || return 0  # only the first MARK: the folder was the script's
  printf '%s\n' "${names[@]}" >> "$1/$MARK"
  echo "$OWNED_BY: $1 was written by an earlier $OWNED_BY (before $MARK listed names);" \
    "adopted, listing: ${names[*]}" >&2
}
# Content tests for `ours`.
is_run_dir() {  # a glo-tf1 run directory: its settings and manifest
  [ -d "$1" ] && grep -qs '"preset"' "$1/config.json" &&
    head -n 1 "$1/manifest.tsv" 2>/dev/null | grep -qE '^(index.path|# glo-tf1 manifest)'
}
is_report() { grep -qs '"glo_tf1_version"' "$1"; }  # a glo-evaluate report
# Only the embedded faces (glo-write-faces: lfw_NNN.jpg, lfw_NNN_mirror.jpg), or lists of them.
FACE_NAME='^lfw_[0-9]{3}(_mirror)?\.jpg$'
is_faces_dir() {  # (no grep -q after a pipe: under pipefail an early exit fails ls)
  [ -d "$1" ] && [ -n "$(ls -A "$1")" ] && [ -z "$(ls -A "$1" | grep -vE "$FACE_NAME")" ]
}
is_faces_list() { [ -f "$1" ] && [ -s "$1" ] && ! grep -qvE "$FACE_NAME" "$1"; }
is_table() {  # glo-compare's markdown, LaTeX or CSV (their first bytes)
  [ -f "$1" ] && head -c 30 "$1" |
    grep -qE '^(\| run \| step \| seeds \||% glo-compare: needs |run,step,num_seeds,seeds,)'
}
# Records name $2 in folder $1's MARK before it is made; refuses a name there that this
# script did not create (a user's train.txt is never overwritten).
claim() {
  if listed "$1" "$2"; then return; fi
  if [ -e "$1/$2" ] || [ -L "$1/$2" ]; then
    refuse "$1/$2 exists and was not written by $OWNED_BY (not listed in $1/$MARK);" \
      "nothing was overwritten. Move it, or $OWNED_HINT"
  fi
  echo "$2" >> "$1/$MARK"
}
# --publish: removes the names MARK lists in $1 (then MARK), only when nothing else is there.
clear_dir() {
  local name others
  if ! [ -e "$1" ] && ! [ -L "$1" ]; then return; fi
  if ! has_list "$1"; then
    [ -d "$1" ] && [ -z "$(ls -A "$1")" ] && return
    [ -d "$1" ] && [ ! -L "$1" ] && adopt "$1" ||
      refuse "--publish: $1 exists and was not written by $OWNED_BY (no $MARK listing" \
        "names in it)$(run_dir_hint "$1"); nothing was deleted. Move it, or $OWNED_HINT"
  fi
  others="$(strangers "$1" | paste -sd' ' -)"
  if [ -n "$others" ]; then
    refuse "--publish: $1 holds names $OWNED_BY did not create (not listed in $MARK):" \
      "$others; nothing was deleted. Move them out, or $OWNED_HINT"
  fi
  while IFS= read -r name; do
    case "$name" in ""|.|..|*/*) continue ;; esac  # a hand-edited line names nothing outside
    rm -rf -- "${1:?}/$name"
  done < <(tail -n +2 "$1/$MARK")
  rm -f -- "$1/$MARK"
}
