#!/usr/bin/env bash
# Print the path of a Python 3.13, the Lambda runtime `chalice deploy` must run under (Chalice
# takes the functions' runtime from the Python that runs it). Looks on PATH, under pyenv, then uv.
# Exits 1 with the ways to get one when there is none.
set -uo pipefail

is_313() { # interpreter
    [[ -n "$1" && -x "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null
}

candidates=()
if command -v python3.13 >/dev/null 2>&1; then
    candidates+=("$(command -v python3.13)")
fi
pyenv_root="${PYENV_ROOT:-}"
if [[ -z "$pyenv_root" ]] && command -v pyenv >/dev/null 2>&1; then
    pyenv_root="$(pyenv root 2>/dev/null)"
fi
pyenv_root="${pyenv_root:-$HOME/.pyenv}"
for found in "$pyenv_root"/versions/3.13*/bin/python3.13; do
    candidates+=("$found")
done
if command -v uv >/dev/null 2>&1; then
    candidates+=("$(uv python find 3.13 2>/dev/null)")
fi

for python in "${candidates[@]}"; do
    if is_313 "$python"; then
        echo "$python"
        exit 0
    fi
done

cat >&2 <<'EOF'
No Python 3.13 found (looked for python3.13 on PATH, under pyenv's versions and with `uv python find`).
`chalice deploy` gives the Lambda functions the runtime of the Python that runs it, so it needs 3.13.
Install one, then run the command again:
  pyenv install 3.13          (https://github.com/pyenv/pyenv)
  uv python install 3.13      (https://docs.astral.sh/uv/)
  sudo apt-get install python3.13 python3.13-venv   (Debian/Ubuntu, where packaged)
EOF
exit 1
