#!/usr/bin/env bash
# Installs Marin's own executor (PyPI marin-core) into a venv outside the repo, as a reference peer.
#
# Used by benchmarks/peer/marin_golden.py and the benchmark suite; never by CI or the test suite.
# Idempotent: re-running with everything in place only checks versions and exits.
#
# Environment:
#   PEER_VENV   where the peer venv lives          (default /work/peer-venv)
#   UV_VENV     small venv that only holds uv      (default /work/peer-uv)
#   PEER_PYTHON interpreter for the peer venv       (default python3.11)
set -euo pipefail

PEER_VENV="${PEER_VENV:-/work/peer-venv}"
UV_VENV="${UV_VENV:-/work/peer-uv}"
PEER_PYTHON="${PEER_PYTHON:-python3.11}"
MARIN_CORE_VERSION="0.2.20.dev202606180959"

# pip backtracks for minutes on marin-core's fsspec/gcsfs/s3fs pins; uv resolves it in seconds.
if [ ! -x "$UV_VENV/bin/uv" ]; then
  echo "install_peer: installing uv into $UV_VENV"
  "$PEER_PYTHON" -m venv "$UV_VENV"
  "$UV_VENV/bin/pip" install --quiet uv
fi
UV="$UV_VENV/bin/uv"

if [ ! -x "$PEER_VENV/bin/python" ]; then
  echo "install_peer: creating $PEER_VENV"
  "$UV" venv -p "$PEER_PYTHON" "$PEER_VENV"
fi

installed="$("$PEER_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("marin-core"))' 2>/dev/null || true)"
if [ "$installed" != "$MARIN_CORE_VERSION" ]; then
  echo "install_peer: installing marin-core==$MARIN_CORE_VERSION (found: ${installed:-none})"
  # Not --prerelease=allow: that pulls release candidates of lxml, protobuf, tokenizers and duckdb.
  "$UV" pip install --python "$PEER_VENV/bin/python" --prerelease=if-necessary-or-explicit \
    "marin-core==$MARIN_CORE_VERSION"
fi

# levanter (imported by marin.execution) needs `git` but does not declare gitpython.
if ! "$PEER_VENV/bin/python" -c 'import git' 2>/dev/null; then
  echo "install_peer: installing gitpython"
  "$UV" pip install --python "$PEER_VENV/bin/python" gitpython
fi

# uv does not compile bytecode (pip does): without .pyc files every import compiles Marin's dependencies from source
# where PYTHONDONTWRITEBYTECODE=1 is set, overstating its import time. compileall skips what is up to date.
env -u PYTHONDONTWRITEBYTECODE "$PEER_VENV/bin/python" -m compileall -q -j 0 \
  "$("$PEER_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null || true

echo "install_peer: ready: $PEER_VENV/bin/python (marin-core $MARIN_CORE_VERSION)"
