.PHONY: setup setup-dev run test

setup:
	./scripts/setup.sh

setup-dev:
	./scripts/setup.sh --dev

# The main job: test_input.json through handler.py on the embedded default model.
run: setup
	.venv/bin/python handler.py

test: setup-dev
	.venv/bin/python -m pytest -q
