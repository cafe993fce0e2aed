#!/usr/bin/env bash
# Test the other supported Pythons (`make test-pythons`): on each, the unit and conformance
# suite and the lessons under strict nbval, in a venv of its own (.venv-3.X).
#
# The version of $PYTHON is skipped: `make test` covers it, notebooks, solutions and all.
# An interpreter is looked for as python3.X on PATH, then under pyenv ($PYENV_ROOT or ~/.pyenv).
# A missing one is reported; under CI=true it fails the run, since CI must test them all.
#
# Usage: scripts/test_pythons.sh [3.10 3.12 ...]   (default: every version pyproject.toml supports)
set -uo pipefail
cd "$(dirname "$0")/.."

SUPPORTED=(3.10 3.11 3.12 3.13)
if [ $# -gt 0 ]; then versions=("$@"); else versions=("${SUPPORTED[@]}"); fi
default_python=${PYTHON:-python3}
make_cmd=${MAKE:-make}

# The "3.X" of an interpreter, or nothing if it does not run (a pyenv shim for a version
# pyenv does not enable fails here, which is why candidates are run rather than trusted).
version_of() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

find_python() {
    local version=$1 candidate
    local pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
    for candidate in "$(command -v "python$version" 2>/dev/null)" \
        $(ls -d "$pyenv_root"/versions/"$version".*/bin/python3 2>/dev/null | sort -rV); do
        if [ -n "$candidate" ] && [ "$(version_of "$candidate")" = "$version" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

default_version=$(version_of "$default_python")
failed=() missing=() passed=()
for version in "${versions[@]}"; do
    if [ "$version" = "$default_version" ]; then
        echo "== Python $version: covered by make test ($default_python)"
        continue
    fi
    if ! python=$(find_python "$version"); then
        echo "== Python $version: NOT FOUND (looked for python$version on PATH and" \
            "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version.*/bin/python3); install it, e.g. pyenv install $version" >&2
        missing+=("$version")
        continue
    fi
    echo "== Python $version: $python, in .venv-$version"
    start=$SECONDS
    if "$make_cmd" --no-print-directory test-unit test-lessons PYTHON="$python" VENV=".venv-$version"; then
        passed+=("$version")
        echo "== Python $version passed in $((SECONDS - start)) s"
    else
        failed+=("$version")
        echo "== Python $version FAILED after $((SECONDS - start)) s" >&2
    fi
done

echo "== Pythons passed: ${passed[*]:-none}; failed: ${failed[*]:-none}; missing: ${missing[*]:-none}"
[ ${#failed[@]} -eq 0 ] || exit 1
if [ ${#missing[@]} -gt 0 ] && [ "${CI:-}" = "true" ]; then
    echo "CI must test every supported Python; missing: ${missing[*]}" >&2
    exit 1
fi
