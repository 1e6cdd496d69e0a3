"""The supervisors' review web app (``assist review``): flagged calls, transcripts, charts."""

from assist.review.app import create_app, time_zone

__all__ = ["create_app", "time_zone"]
