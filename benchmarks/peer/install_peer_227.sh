#!/usr/bin/env bash
# Installs today's Marin (PyPI marin-core 0.2.227, Python 3.12) into a venv outside the repo, as a reference peer.
#
# Used by benchmarks/peer/marin_lazy_golden.py, time_marin_227.py and benchmarks/run_all.py; never by CI or the test
# suite. The June peer (0.2.20, Python 3.11, install_peer.sh) stays in its own venv for the ExecutorStep goldens.
# Idempotent: re-running with everything in place only checks versions and exits.
#
# Environment:
#   PEER227_VENV   where the peer venv lives           (default /work/peer-227)
#   UV_VENV        small venv that only holds uv       (default /work/peer-uv)
#   PEER227_PYTHON a Python 3.12 interpreter           (default: python3.12 on PATH, else pyenv's 3.12.x)
set -euo pipefail

PEER227_VENV="${PEER227_VENV:-/work/peer-227}"
UV_VENV="${UV_VENV:-/work/peer-uv}"
MARIN_CORE_VERSION="0.2.227.dev40316220070"

# A pyenv shim on PATH may exist without a 3.12 selected, so each candidate must actually run.
if [ -z "${PEER227_PYTHON:-}" ]; then
  for candidate in python3.12 "$HOME"/.pyenv/versions/3.12.*/bin/python3.12; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      PEER227_PYTHON="$candidate"
      break
    fi
  done
fi
if [ -z "${PEER227_PYTHON:-}" ] || ! "$PEER227_PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
  echo "install_peer_227: marin-core $MARIN_CORE_VERSION needs Python 3.12; install one (e.g. pyenv install 3.12) or set PEER227_PYTHON" >&2
  exit 1
fi

# pip backtracks for minutes on marin-core's pins; uv resolves it in seconds. Any Python can host uv.
if [ ! -x "$UV_VENV/bin/uv" ]; then
  echo "install_peer_227: installing uv into $UV_VENV"
  "$PEER227_PYTHON" -m venv "$UV_VENV"
  "$UV_VENV/bin/pip" install --quiet uv
fi
UV="$UV_VENV/bin/uv"

if [ ! -x "$PEER227_VENV/bin/python" ]; then
  echo "install_peer_227: creating $PEER227_VENV"
  "$UV" venv -p "$PEER227_PYTHON" "$PEER227_VENV"
fi

installed="$("$PEER227_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("marin-core"))' 2>/dev/null || true)"
if [ "$installed" != "$MARIN_CORE_VERSION" ]; then
  echo "install_peer_227: installing marin-core==$MARIN_CORE_VERSION (found: ${installed:-none})"
  # Not --prerelease=allow: that pulls release candidates of unrelated packages.
  "$UV" pip install --python "$PEER227_VENV/bin/python" --prerelease=if-necessary-or-explicit \
    "marin-core==$MARIN_CORE_VERSION" gitpython
fi

# levanter (imported by marin's training modules) needs `git` but does not declare gitpython.
if ! "$PEER227_VENV/bin/python" -c 'import git' 2>/dev/null; then
  echo "install_peer_227: installing gitpython"
  "$UV" pip install --python "$PEER227_VENV/bin/python" gitpython
fi

# uv does not compile bytecode; pip does, so a user's import reads .pyc files. Without them every import of Marin
# compiles jax, levanter and the rest from source (PYTHONDONTWRITEBYTECODE=1 is set on this machine kind), which
# would overstate its import time. compileall skips what is already up to date.
env -u PYTHONDONTWRITEBYTECODE "$PEER227_VENV/bin/python" -m compileall -q -j 0 \
  "$("$PEER227_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null || true

"$PEER227_VENV/bin/python" -c 'import marin.execution.lazy, marin.execution.step_runner'
echo "install_peer_227: ready: $PEER227_VENV/bin/python (marin-core $MARIN_CORE_VERSION)"
