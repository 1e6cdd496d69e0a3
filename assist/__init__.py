"""assist: a local, private call-assist overlay for phone agents."""

__version__ = "0.1.0"
