"""The `svimaged` command: argument parsing and exit codes only (SPEC section 8).

Exit codes: 0 ok, 1 the operation failed, 2 bad usage or config, 3 the daemon is not
reachable.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from svimaged import __version__
from svimaged.clock import SystemClock
from svimaged.config import Config, config_path_from, load_config, render_config
from svimaged.errors import ConfigError, SvimagedError
from svimaged.log import setup_logging

log = logging.getLogger("svimaged")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="svimaged",
        description="Image and NFO daemon for self-hosted Twitch recording archives.",
    )
    parser.add_argument("--version", action="version", version=f"svimaged {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon, or one full pass with --once")
    _add_config(run)
    run.add_argument("--once", action="store_true", help="one full pass, then exit (cron)")
    run.add_argument("--daemonize", action="store_true", help="detach (hosts without systemd)")
    run.add_argument("--pidfile", type=Path, help="pid file for --daemonize")

    check = sub.add_parser("check-config", help="validate the config and print it")
    _add_config(check)

    demo = sub.add_parser("demo", help="offline demo: sample tree + local fake Twitch")
    demo.add_argument("dir", nargs="?", type=Path, default=Path("svimaged-demo"))
    return parser


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="F",
        help="config file (default: $SVIMAGED_CONFIG, then /etc/svimaged/config.yaml)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check-config":
            return _check_config(args)
        if args.command == "run":
            return _run(args)
        if args.command == "demo":
            from svimaged.demo import run_demo

            return run_demo(args.dir)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except SvimagedError as exc:
        print(f"svimaged: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE


def _load(args: argparse.Namespace) -> Config:
    return load_config(config_path_from(args.config, os.environ), os.environ)


def _check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    sys.stdout.write(render_config(config))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    if args.daemonize and not args.pidfile:
        print("svimaged run: --daemonize needs --pidfile F", file=sys.stderr)
        return EXIT_USAGE
    if args.once:
        config = _load(args)
        setup_logging(config.log_level)
        from svimaged.engine import run_once

        summary = run_once(config, SystemClock())
        print(summary.line())
        return EXIT_OK
    from svimaged.daemon import Daemon
    from svimaged.pidfile import detached

    # Absolute, because --daemonize changes the working directory to /.
    path = config_path_from(args.config, os.environ).absolute()
    if not args.daemonize:
        return Daemon(path, os.environ).run()
    load_config(path, os.environ)  # a bad config is reported here, before detaching
    with detached(args.pidfile):
        return Daemon(path, os.environ).run()
