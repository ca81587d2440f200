"""Chat platform adapters; each imports its own platform library and nothing else does."""
