"""What gets written next to the recordings for the media servers. Each output (`kodi`:
the NFOs; `sidecars`: image files) turns a pure view of a streamer folder into file values
(`base`); `apply` is the one place that writes them, skips unchanged bytes and records them."""
