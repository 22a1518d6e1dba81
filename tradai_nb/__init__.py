"""tradai-nb: the operations console for the TradAI AWS estate."""

__version__ = "0.1.0"
