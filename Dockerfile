# agentrl on CPU: the learner, the rollout engine and the tiny model in one container.
# Building needs internet access (the python base image, the PyTorch CPU wheel index and PyPI).
#   docker compose build
#   docker compose run --rm train                                  # the default demo
#   docker compose run --rm train agentrl train env=frozenlake algo=grpo trainer.steps=50
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app

# The CPU build of torch first, from PyTorch's own index: installed from PyPI as a dependency of
# agentrl it would be the multi-GB CUDA build. agentrl's range (torch<=2.13.0) accepts this wheel.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Only what the package needs; pyproject.toml installs environments/, sandboxes/ and configs/ as
# agentrl.environments, agentrl.sandboxes and agentrl.configs.
COPY pyproject.toml README.md ./
COPY agentrl ./agentrl
COPY environments ./environments
COPY sandboxes ./sandboxes
COPY configs ./configs
RUN pip install -e ".[docker]"

# Runs are written to /app/runs (trainer.runs_dir=runs, relative to the working directory);
# compose.yaml mounts ./runs there.
CMD ["agentrl", "train", "env=frozenlake", "algo=gigpo", "model=tiny"]
