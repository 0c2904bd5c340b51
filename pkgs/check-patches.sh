# check_patch_series [PATCH...] -- PATCH...: apply the patches, in order, to a scratch copy of
# the files they touch (taken from the current directory, the unpacked source). Those before
# `--` (fetched upstream fixes) are applied as patchPhase applies them; those after it (this
# repository's series) must apply exactly, with no fuzz. The first one that does not apply
# stops the build, named, with patch's own report; the source itself is not changed
# (patchPhase applies everything afterwards).
check_patch_series() {
  local scratch="${TMPDIR:-/tmp}/patch-series-check" patch file output fuzz=""
  rm -rf "$scratch"
  mkdir -p "$scratch"
  for patch in "$@"; do
    [ "$patch" = -- ] && continue
    for file in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$patch"); do
      if [ -f "$file" ] && [ ! -e "$scratch/$file" ]; then
        mkdir -p "$scratch/$(dirname "$file")"
        cp "$file" "$scratch/$file"
      fi
    done
  done
  for patch in "$@"; do
    if [ "$patch" = -- ]; then
      fuzz="--fuzz=0"
      continue
    fi
    if ! output="$(patch -d "$scratch" -p1 --batch --forward $fuzz \
      --no-backup-if-mismatch < "$patch" 2>&1)"; then
      echo "patch series: $(basename "$patch") does not apply to this source${fuzz:+ as written (no fuzz)}:" >&2
      echo "$output" >&2
      rm -rf "$scratch"
      return 1
    fi
  done
  rm -rf "$scratch"
  echo "patch series: every patch applies (this repository's without fuzz)"
}
