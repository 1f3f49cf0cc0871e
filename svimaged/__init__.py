"""svimaged: image and NFO daemon for self-hosted Twitch recording archives."""

__version__ = "0.1.0"
