# Shared by scripts/demo and scripts/test: make .venv with streamwatch installed (idempotent).
# Sourced, not run. Re-installs only when pyproject.toml changed since the last install.
# The first install takes a while (half a minute to a few minutes, most of it pip resolving and
# building wheels): it says so first, and on a terminal shows what pip is doing on one line.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
python="${PYTHON:-python3}"
extras="${1:-}"

# pip's own lines squeezed onto one terminal line ("Collecting faust-streaming==..."), so a
# long install visibly moves without scrolling; errors and warnings are kept in full.
_streamwatch_ticker() {
  local line width=$(( ${COLUMNS:-80} - 4 ))
  while IFS= read -r line; do
    case $line in
      *ERROR*|*error:*|*WARNING*) printf '\r\033[K%s\n' "$line" ;;
      *) printf '\r\033[K  %s' "${line:0:$width}" ;;
    esac
  done
  printf '\r\033[K'
}

_streamwatch_pip() {
  if [ -t 1 ] && [ "${TERM:-dumb}" != dumb ]; then
    "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off "$@" 2>&1 \
      | _streamwatch_ticker
  else
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
  fi
}

if [ ! -x "$venv/bin/python" ]; then
  echo "streamwatch: creating $venv/ with $("$python" --version)"
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ "$repo/pyproject.toml" -nt "$stamp" ]; then
  started=$SECONDS
  echo "streamwatch: installing streamwatch${extras:+ with its [$extras] tools} and the" \
    "dependencies pinned in pyproject.toml into .venv/ (once; again only when pyproject.toml" \
    "changes). This takes half a minute or more."
  echo "streamwatch: 1/2 upgrading pip"
  _streamwatch_pip --upgrade pip
  echo "streamwatch: 2/2 installing faust-streaming, aiokafka, redis, river, orjson, ..." \
    "${extras:+and the $extras tools }(editable: your changes to src/ apply at once)"
  _streamwatch_pip -e "$repo${extras:+[$extras]}"
  touch "$stamp"
  echo "streamwatch: installed in $((SECONDS - started)) s"
fi
