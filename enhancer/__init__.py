"""Prompt enhancement worker for SDXL images and WAN 2.1 videos."""

__version__ = "2.0.0"
SYSTEM_NAME = "prompt-enhancer"
