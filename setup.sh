#!/usr/bin/env bash
# Set up .venv on a fresh machine: the pinned stack (requirements.txt, scikit-learn included), torchattacks without its dependencies
# (its metadata pulls torchvision, a multi-GB CUDA build that breaks beside the CPU torch),
# then this project without dependencies. Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
# torch first and exactly pinned: an unpinned torch would pull a several-GB CUDA build.
pip install "torch==2.13.0"
pip install -r requirements.txt
pip install --no-deps "torchattacks==3.5.1"
pip install --no-deps -e .
.venv/bin/python -c "import spectral, torch; print(f'spectral {spectral.__version__} ready (torch {torch.__version__})')"
