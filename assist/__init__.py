"""assist: a local, private call-assist overlay for phone agents."""

import os

__version__ = "0.1.0"

# Models come from pip packages or models/, never a hub: set before any module of assist can
# import faster_whisper (and huggingface_hub under it).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
