"""calib-eval: measure and improve how well LLMs know when they are wrong."""
__version__ = "0.1.0"
