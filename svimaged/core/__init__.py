"""The vocabulary every layer shares: plain data (`model`), the exception hierarchy
(`errors`), the one place for names (`names`), the clock seam (`clock`), key=value logging
(`log`) and atomic file replacement (`atomic`). Imports nothing else of svimaged."""
