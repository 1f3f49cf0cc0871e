"""The command line (contract section 8): argument parsing and exit codes (`main`) and the
commands that talk to a running daemon over its control socket (`commands`)."""
