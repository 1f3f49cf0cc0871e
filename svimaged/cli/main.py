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
    require_recordings,
)
from svimaged.core.clock import SystemClock
from svimaged.core.errors import ConfigError, DaemonUnreachableError, SvimagedError
from svimaged.core.log import setup_logging

log = logging.getLogger("svimaged")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
CLIENT_COMMANDS = frozenset({"stats", "sync", "cleanup", "streamer", "category"})

_REACH = " Talks to the daemon over its control socket; exits 3 when it is not running."
#: The paragraph each subcommand's --help shows under its usage line.
DESCRIPTIONS = {
    "run": "Run the daemon in the foreground: watch the recordings tree, cache the images and "
    "keep the NFOs right as recordings arrive, and answer the control commands on "
    "control.socket. SIGHUP reloads the config; SIGTERM stops it within 10 s (exit 0). With "
    "--once: one pass without the watcher and the socket, a summary line, then exit 0 "
    "when the pass ran (also with per-item failures), 1 when it could not run, 2 on config "
    "errors. Like the daemon's rescans it stats only folders to find what changed, and every "
    "file on the first run, once a day, and with --full.",
    "check-config": "Load and validate the config and print the effective settings, secrets "
    "masked; exit 0. An invalid config prints each problem as "
    "'config error: <key>: <problem>' and exits 2.",
    "demo": "Offline demo: build a small sample recordings tree in DIR, start a local fake of "
    "Twitch and its image CDN on 127.0.0.1, run one full pass and print every image cached "
    "and every NFO written. Run it again to see a second pass change nothing.",
    "migrate": "Import the images StreamVault left: <recordings>/.media, an older "
    "<recordings>/.images and, with --from, a StreamVault install's category and artwork "
    "images. Files are checked like downloads and hard-linked (or copied) under their cache "
    "names; nothing is deleted, a second run does nothing, and the report says what was "
    "imported and what was skipped.",
    "notify": "Commands about the media servers in the config's notify list, which the daemon "
    "tells what each pass wrote (see 'svimaged notify test --help').",
    "notify test": "Send a harmless request to each media server in the config's notify list "
    "and print what answered: its version and the libraries that hold the recordings folder "
    "as that server sees it (through its path_map). Nothing is scanned or refreshed. Exit 0 "
    "when every server answered and holds the recordings, 1 when one did not.",
    "stats": "Print the running daemon's counts: cached and failed images per kind, bytes on "
    "disk, the queue, NFOs written and the time of the last sync." + _REACH,
    "sync": "Start a full pass in the running daemon (rescan, missing images, failed ones at "
    "once, NFOs) and follow it: a progress bar on a terminal, a plain line every 2 s "
    "otherwise, the summary at the end. The rescan stats folders only (every file once a day, "
    "or with --full)." + _REACH,
    "cleanup": "Have the running daemon delete the cached images that nothing references any "
    "more, and its own leftover temporary files. Files in the cache that svimaged did not "
    "name are reported, never deleted." + _REACH,
    "streamer": "Show what the running daemon knows about a streamer's profile image, by "
    "Twitch user id or login; --download revalidates it now, --force downloads it again." + _REACH,
    "category": "Show what the running daemon knows about a category's image, by its name as "
    "Twitch spells it; --download revalidates it now, --force downloads it again." + _REACH,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="svimaged",
        description="Image and NFO daemon for self-hosted Twitch recording archives.",
    )
    parser.add_argument("--version", action="version", version=f"svimaged {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _command(sub, "run", "run the daemon, or one full pass with --once")
    _add_config(run)
    run.add_argument("--once", action="store_true", help="one full pass, then exit (cron)")
    run.add_argument(
        "--full",
        action="store_true",
        help="with --once: compare every file with the state, not only the folders",
    )
    run.add_argument(
        "--daemonize",
        action="store_true",
        help="detach (hosts without systemd); returns once the daemon is ready, or its error",
    )
    run.add_argument("--pidfile", type=Path, help="pid file for --daemonize")

    check = _command(sub, "check-config", "validate the config and print it")
    _add_config(check)

    demo = _command(sub, "demo", "offline demo: sample tree + local fake Twitch")
    demo.add_argument("dir", nargs="?", type=Path, default=Path("svimaged-demo"))

    migrate = _command(sub, "migrate", "import the images StreamVault left behind")
    _add_config(migrate)
    migrate.add_argument(
        "--from", dest="from_dir", type=Path, metavar="DIR", help="a StreamVault install"
    )
    migrate.add_argument("--dry-run", action="store_true", help="list, change nothing")
    notify = _command(sub, "notify", "the media servers told about changes (notify)")
    actions = notify.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    test = actions.add_parser(
        "test", help="check that each server answers", description=DESCRIPTIONS["notify test"]
    )
    _add_config(test)
    _add_client_commands(sub)
    return parser


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
) -> argparse.ArgumentParser:
    """Add subcommand `name`: `summary` in the command list, its `DESCRIPTIONS` paragraph in
    its own --help."""
    return sub.add_parser(name, help=summary, description=DESCRIPTIONS[name])


def _add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that talk to a running daemon over its control socket."""
    stats = _command(sub, "stats", "cache, queue and NFO counts of the running daemon")
    stats.add_argument("--json", action="store_true", help="print the raw stats object")
    sync = _command(sub, "sync", "run a full pass now and wait for it")
    sync.add_argument("--no-wait", action="store_true", help="print the job id and return")
    sync.add_argument("--no-progress", action="store_true", help="no progress output")
    sync.add_argument(
        "--full", action="store_true", help="compare every file with the state, not only folders"
    )
    cleanup = _command(sub, "cleanup", "remove cached files nobody references")
    cleanup.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    cleanup.add_argument("--json", action="store_true", help="print the raw result")
    streamer = _command(sub, "streamer", "show (or download) a streamer's image")
    streamer.add_argument("key", metavar="ID_OR_LOGIN", help="Twitch user id or login")
    category = _command(sub, "category", "show (or download) a category's image")
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
        if args.command == "notify":
            return _notify_test(args)
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


def _notify_test(args: argparse.Namespace) -> int:
    config = _load(args)
    setup_logging(config.log_level)
    from svimaged.notify import check_servers, format_result

    if not config.notify:
        print("no media servers to test: the config's notify list is empty")
        return EXIT_OK
    results = check_servers(config)
    for result in results:
        sys.stdout.write(format_result(result))
    good = sum(result.ok for result in results)
    print(f"{good} of {len(results)} media servers ready")
    return EXIT_OK if good == len(results) else EXIT_FAILED


def _check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    require_recordings(config)  # what `run` needs too: a config error (exit 2)
    sys.stdout.write(render_config(config))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    if args.daemonize and not args.pidfile:
        print("svimaged run: --daemonize needs --pidfile F", file=sys.stderr)
        return EXIT_USAGE
    if args.once:
        config = _load(args)
        setup_logging(config.log_level)
        from svimaged.cli import commands
        from svimaged.daemon.writable import state_folder_errors
        from svimaged.pipeline import run_once

        view = commands.SyncView(sys.stderr, sys.stderr.isatty(), label="pass")
        try:
            with state_folder_errors(config.state_db):
                summary = run_once(
                    config,
                    SystemClock(),
                    commands.pass_progress(view),
                    full=True if args.full else None,
                )
        finally:
            view.close()
        print(summary.line())
        return EXIT_OK
    from svimaged.daemon.detach import run_detached
    from svimaged.daemon.lifecycle import Daemon

    # Absolute, because --daemonize changes the working directory to /.
    path = config_path_from(args.config, os.environ).absolute()
    if not args.daemonize:
        return Daemon(path, os.environ).run()
    load_config(path, os.environ)  # a bad config is reported here, before detaching
    return run_detached(args.pidfile, lambda ready: Daemon(path, os.environ, on_ready=ready).run())


def socket_path(args: argparse.Namespace) -> Path:
    """`--socket`, else `control.socket` of the config, else the default socket. A config
    the user named with `--config` must load: its `ConfigError` (exit 2, naming the file)
    is raised. One found through `$SVIMAGED_CONFIG` or the default path that does not load
    is no reason to fail (the operator may not be allowed to read the daemon's config): the
    default socket is tried."""
    if args.socket is not None:
        return Path(args.socket)
    try:
        return _load(args).control.socket
    except ConfigError:
        if args.config:
            raise
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
        return commands.cmd_sync(client, wait=not args.no_wait, view=view, out=out, full=args.full)
    if args.command == "cleanup":
        return commands.cmd_cleanup(client, dry_run=args.dry_run, as_json=args.json, out=out)
    command = commands.cmd_streamer if args.command == "streamer" else commands.cmd_category
    return command(
        client, args.key, download=args.download, force=args.force, as_json=args.json, out=out
    )
