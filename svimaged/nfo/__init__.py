"""NFO files: safe parsing (`xml`), pure rendering and merging (`render`, `merge`), what an
NFO references (`refs`), and the one file step that reads, merges and writes (`files`)."""
