"""NFO files: safe parsing, pure rendering and merging. No file I/O in this package."""
