"""Reading the recordings tree: which streamer folders and recordings exist (`scan`, names
and `lstat` only) and what the local metadata says about each (`infojson`, `nfo_meta`,
`names`, merged first-hit-wins by `metadata`)."""
