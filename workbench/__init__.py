"""workbench: a keyboard-driven terminal workbench for PyTorch experiments."""

__version__ = "0.1.0"
