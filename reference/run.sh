#!/usr/bin/env bash
# Regenerates every PyTorch fixture under test/fixtures/ (npm run reference).
# Needs Debian's PyTorch for the system Python: apt-get install -y python3-torch
set -euo pipefail
cd "$(dirname "$0")/.."

# The system interpreter, on purpose: Debian's python3-torch installs for it, and the python3 first
# on PATH may be another interpreter without torch. PYTHON=... overrides it.
PYTHON="${PYTHON:-/usr/bin/python3}"

if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
  echo "error: $PYTHON cannot import torch." >&2
  echo "Install PyTorch for the system Python (Debian/Ubuntu, as root):" >&2
  echo "    apt-get update && apt-get install -y python3-torch" >&2
  echo "then run 'npm run reference' again." >&2
  exit 1
fi

# No __pycache__ left in reference/.
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" reference/record_all.py "$@"
