"""Test doubles that ship with the package: a fake Twitch (Helix, token endpoint, image CDN)
and deterministic generated images. Used by the test suite and by `svimaged demo`; nothing
here is imported by the daemon itself."""
