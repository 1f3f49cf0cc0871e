"""Twitch Helix: the client (`helix`: token, batching, rate limits), the reading of its
untrusted answers (`answers`) and the look-ups cached in the state (`lookup`)."""
