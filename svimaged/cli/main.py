"""The `svimaged` command: argument parsing and exit codes only (contract section 8).

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
from svimaged.config import (
    DEFAULT_SOCKET,
    Config,
    config_path_from,
    load_config,
    render_config,
)
from svimaged.core.clock import SystemClock
from svimaged.core.errors import ConfigError, DaemonUnreachableError, SvimagedError
from svimaged.core.log import setup_logging

log = logging.getLogger("svimaged")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
CLIENT_COMMANDS = frozenset({"stats", "sync", "cleanup", "streamer", "category"})


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

    migrate = sub.add_parser("migrate", help="import the images StreamVault left behind")
    _add_config(migrate)
    migrate.add_argument(
        "--from", dest="from_dir", type=Path, metavar="DIR", help="a StreamVault install"
    )
    migrate.add_argument("--dry-run", action="store_true", help="list, change nothing")
    _add_client_commands(sub)
    return parser


def _add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that talk to a running daemon over its control socket."""
    stats = sub.add_parser("stats", help="cache, queue and NFO counts of the running daemon")
    stats.add_argument("--json", action="store_true", help="print the raw stats object")
    sync = sub.add_parser("sync", help="run a full pass now and wait for it")
    sync.add_argument("--no-wait", action="store_true", help="print the job id and return")
    sync.add_argument("--no-progress", action="store_true", help="no progress output")
    cleanup = sub.add_parser("cleanup", help="remove cached files nobody references")
    cleanup.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    cleanup.add_argument("--json", action="store_true", help="print the raw result")
    streamer = sub.add_parser("streamer", help="show (or download) a streamer's image")
    streamer.add_argument("key", metavar="ID_OR_LOGIN", help="Twitch user id or login")
    category = sub.add_parser("category", help="show (or download) a category's image")
    category.add_argument("key", metavar="NAME", help="category name as Twitch spells it")
    for parser in (streamer, category):
        parser.add_argument(
            "--download", action="store_true", help="download now (when cached: only if changed)"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="download again even when cached (implies --download)",
        )
        parser.add_argument("--json", action="store_true", help="print the raw object")
    for parser in (stats, sync, cleanup, streamer, category):
        _add_config(parser)
        parser.add_argument(
            "--socket",
            metavar="PATH",
            type=Path,
            help=f"control socket (default: control.socket from the config, else {DEFAULT_SOCKET})",
        )


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
            from svimaged.demo.run import run_demo

            return run_demo(args.dir)
        if args.command == "migrate":
            return _migrate(args)
        if args.command in CLIENT_COMMANDS:
            return _client_command(args)
    except DaemonUnreachableError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNREACHABLE
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


def _migrate(args: argparse.Namespace) -> int:
    config = _load(args)
    setup_logging(config.log_level)
    from svimaged.migrate.importer import run_migrate

    report = run_migrate(config, SystemClock(), from_dir=args.from_dir, dry_run=args.dry_run)
    print("\n".join(report.lines()))
    return EXIT_FAILED if report.errors else EXIT_OK


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
        from svimaged.pipeline import run_once

        summary = run_once(config, SystemClock())
        print(summary.line())
        return EXIT_OK
    from svimaged.daemon.lifecycle import Daemon
    from svimaged.daemon.pidfile import detached

    # Absolute, because --daemonize changes the working directory to /.
    path = config_path_from(args.config, os.environ).absolute()
    if not args.daemonize:
        return Daemon(path, os.environ).run()
    load_config(path, os.environ)  # a bad config is reported here, before detaching
    with detached(args.pidfile):
        return Daemon(path, os.environ).run()


def socket_path(args: argparse.Namespace) -> Path:
    """`--socket`, else `control.socket` of the config, else the default socket. A config
    that does not load is no reason to fail here (the operator may not be allowed to read
    it); only an explicit `--config` that does not load is mentioned on stderr."""
    if args.socket is not None:
        return Path(args.socket)
    try:
        return _load(args).control.socket
    except ConfigError as exc:
        if args.config:
            print(
                f"svimaged: not using {args.config} ({exc}); trying {DEFAULT_SOCKET}",
                file=sys.stderr,
            )
        return DEFAULT_SOCKET


def _client_command(args: argparse.Namespace) -> int:
    from svimaged.cli import commands
    from svimaged.control.client import ControlClient

    client = ControlClient(socket_path(args))
    out = sys.stdout
    if args.command == "stats":
        return commands.cmd_stats(client, as_json=args.json, out=out)
    if args.command == "sync":
        view = commands.SyncView(sys.stderr, sys.stderr.isatty(), enabled=not args.no_progress)
        return commands.cmd_sync(client, wait=not args.no_wait, view=view, out=out)
    if args.command == "cleanup":
        return commands.cmd_cleanup(client, dry_run=args.dry_run, as_json=args.json, out=out)
    command = commands.cmd_streamer if args.command == "streamer" else commands.cmd_category
    return command(
        client, args.key, download=args.download, force=args.force, as_json=args.json, out=out
    )
