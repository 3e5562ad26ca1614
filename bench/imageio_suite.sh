#!/usr/bin/env bash
# imageio's own tests/test_pyav.py, re-pointed at plugin="framepipe" (issue 11), with the
# pyav plugin itself as the control. Nothing of imageio is kept in this repository: pass
# checkouts (or git directories) of imageio/imageio and imageio/test_images.
#
#   bench/imageio_suite.sh IMAGEIO TEST_IMAGES [WORKDIR]
#
# IMAGEIO and TEST_IMAGES are either work trees or git directories (bare or .git); a git
# directory is checked out at its HEAD into WORKDIR (default /tmp/imageio-suite). framepipe
# comes from this repository's python/ (run `make setup` first); the tests and their
# dependencies (pytest, av, pillow, numpy) go into a throwaway venv WORKDIR/venv.
# Prints both pytest summaries; the full logs are WORKDIR/{pyav,framepipe}.log.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    sed -n '2,12p' "$0"
    exit 2
fi
REPO=$(cd "$(dirname "$0")/.." && pwd)
IMAGEIO=$(realpath "$1")
TEST_IMAGES=$(realpath "$2")
WORK=${3:-/tmp/imageio-suite}

[[ -e "$REPO/python/framepipe/_framepipe.abi3.so" || -n $(ls "$REPO"/python/framepipe/_framepipe*.so 2>/dev/null) ]] \
    || { echo "framepipe is not built: run 'make setup' in $REPO first" >&2; exit 1; }

# checkout SRC DEST: a work tree is copied; a git directory is checked out at HEAD, blob by
# blob, so that a snapshot lacking its largest files (none of which test_pyav.py uses) still
# checks out; the files it lacks are named.
checkout() {
    local src=$1 dest=$2 gitdir=""
    rm -rf "$dest"
    mkdir -p "$dest"
    if [[ -f "$src/HEAD" && -d "$src/objects" ]]; then
        gitdir=$src
    elif [[ -d "$src/.git" ]]; then
        gitdir=$src/.git
    else
        cp -a "$src/." "$dest/"
        return
    fi
    local mode type sha path missing=0
    while IFS=$'\t' read -r meta path; do
        read -r mode type sha <<<"$meta"
        [[ $type == blob ]] || continue
        mkdir -p "$dest/$(dirname "$path")"
        if git --git-dir="$gitdir" cat-file -e "$sha" 2>/dev/null; then
            git --git-dir="$gitdir" cat-file blob "$sha" >"$dest/$path"
        else
            echo "  (not in $gitdir: $path)" >&2
            missing=$((missing + 1))
        fi
    done < <(git --git-dir="$gitdir" ls-tree -r HEAD)
    [[ $missing == 0 ]] || echo "  $missing file(s) absent from the snapshot" >&2
}

mkdir -p "$WORK"
echo "== checking out imageio into $WORK/imageio and test_images into $WORK/imageio/.test_images"
checkout "$IMAGEIO" "$WORK/imageio"
# imageio's conftest uses <root>/.test_images when -m "not needs_internet" forbids cloning.
checkout "$TEST_IMAGES" "$WORK/imageio/.test_images"

if [[ ! -x "$WORK/venv/bin/python" ]]; then
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/python" -m pip install -q --upgrade pip
fi
# av as imageio's own lock file pins it (uv.lock): with PyAV 18.1 its pyav plugin's writing
# fails ("Cannot change width after codec is open").
AV_PIN=$(grep -A1 '^name = "av"$' "$WORK/imageio/uv.lock" 2>/dev/null | sed -n 's/^version = "\(.*\)"/\1/p')
"$WORK/venv/bin/python" -m pip install -q pytest numpy pillow "av${AV_PIN:+==$AV_PIN}"
# imageio itself from the checkout (its tests import it from there; it wants its metadata).
"$WORK/venv/bin/python" -m pip install -q --no-deps "$WORK/imageio"
# framepipe as built in this repository (make setup), without reinstalling it.
SITE=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$REPO/python" > "$SITE/framepipe-worktree.pth"

cd "$WORK/imageio"
# The copy under test: every plugin="pyav" becomes plugin="framepipe", and framepipe is
# imported so that imageio knows the plugin.
sed -e 's/plugin="pyav"/plugin="framepipe"/g' \
    -e 's/^import imageio.v3 as iio$/import imageio.v3 as iio\nimport framepipe  # noqa: F401/' \
    tests/test_pyav.py > tests/test_framepipe_as_pyav.py
grep -q '^import framepipe' tests/test_framepipe_as_pyav.py

status=0
for run in pyav framepipe; do
    file=tests/test_pyav.py
    [[ $run == framepipe ]] && file=tests/test_framepipe_as_pyav.py
    echo "== $run: pytest $file -m 'not needs_internet'"
    "$WORK/venv/bin/python" -m pytest "$file" -m "not needs_internet" -rfE -q \
        >"$WORK/$run.log" 2>&1 || status=1
    grep -E '^(FAILED|ERROR) |passed|failed|error' "$WORK/$run.log" | tail -40 || true
done
exit $status
