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
# Makes $1 this script's output folder: new or empty (then marked), or marked before.
own_dir() {
  if [ -f "$1/$MARK" ]; then return; fi
  if [ -e "$1" ] || [ -L "$1" ]; then
    [ -d "$1" ] && [ -z "$(ls -A "$1")" ] || refuse "$1 exists and was not written by" \
      "$OWNED_BY (no $MARK in it; it holds: $(strangers "$1" | head -5 | paste -sd' ' -));" \
      "nothing was written there. $OWNED_HINT"
  fi
  mkdir -p "$1"
  echo "# reproduce/$OWNED_BY created these names in this folder;" \
    "--publish removes only them" > "$1/$MARK"
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
  if ! [ -f "$1/$MARK" ]; then
    [ -d "$1" ] && [ -z "$(ls -A "$1")" ] && return
    refuse "--publish: $1 exists and was not written by $OWNED_BY (no $MARK in it);" \
      "nothing was deleted. Move it, or $OWNED_HINT"
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
