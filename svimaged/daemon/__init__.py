"""The long-running daemon: lifecycle, signals and reload (`lifecycle`), the workers
(`workers`), the coalescing work queue (`queue`), the file watcher (`watcher`), timers
(`scheduler`), systemd notifications (`sdnotify`) and the pid file for `--daemonize`
(`pidfile`)."""
