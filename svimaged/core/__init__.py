"""The vocabulary every layer shares: plain data (`model`), the exception hierarchy
(`errors`), the one place for names (`names`), the clock seam (`clock`), key=value logging
(`log`), atomic file replacement (`atomic`) and handing freed memory back to the system
after large work (`memory`). Imports nothing else of svimaged."""
