"""pairbot: accountability partners for Discord communities."""

__version__ = "0.1.0"
