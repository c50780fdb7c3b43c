"""The standard ``--os-*`` options of OpenStack command lines, on the commands that reach a cloud.

openstacksdk registers them (``register_argparse_arguments``): ``--os-cloud``,
``--os-region-name``, ``--os-interface``, the TLS options (``--os-cacert``,
``--os-cert``, ``--os-key``, ``--insecure``), ``--os-auth-type`` and the auth
type's own options (``--os-auth-url``, ``--os-username``, ...). Importing
openstacksdk takes about 0.3 s, which ``validate`` and ``render`` must not
pay, so a command's parser adds them only when that command is parsed or its
help is shown (:class:`CommandParser`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

_SECRET_VALUE = re.compile(r"(--os-[\w-]*(?:password|secret|token|passcode)[\w-]*)(=|\s+)(?!-)\S+")
"""An ``--os-*`` option that holds a secret, and the value that follows it."""

OPTIONS_DEST = "openstack_options"
"""The parsed arguments' attribute listing the destinations of the options openstacksdk added."""

SKIPPED = frozenset({"--timeout"})
"""keystoneauth's HTTP timeout is left out: heatdeploy's ``--timeout`` is the Heat operation's, in minutes,
and the HTTP timeout is the cloud entry's ``api_timeout``."""

Addition = Callable[[argparse.ArgumentParser, list[str]], None]


class CommandParser(argparse.ArgumentParser):
    """An argument parser some of whose options are added only when it is used: to parse, or to show help.

    Sub-command parsers are of the same class (argparse makes them so), so
    only the command that runs pays for its deferred options.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[Addition] = []

    def defer(self, addition: Addition) -> None:
        """Call ``addition(parser, argv)`` before this parser is first used."""
        self._pending.append(addition)

    def complete(self, argv: Sequence[str] = ()) -> None:
        """Add the deferred options now; ``argv``, the command's arguments, is what the additions may peek at."""
        pending, self._pending = self._pending, []
        for addition in pending:
            addition(self, list(argv))

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self.complete(args or ())
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.complete()
        return super().format_usage()

    json_errors = False
    """Whether the command line asked for ``--format json``: then a usage error is a JSON ``error`` event."""

    def error(self, message: str) -> NoReturn:
        """One line, as every other error: ``PROG: error: MESSAGE``, exit 2; in JSON mode, the ``error`` event."""
        # argparse quotes what it rejects: a password or token typed with a wrong option would reach the log.
        message = _SECRET_VALUE.sub(r"\1\2***", message)
        if CommandParser.json_errors:
            line = json.dumps({"event": "error", "message": f"{self.prog}: {message}", "exit_status": 2},
                              sort_keys=True)
            self._print_message(line + "\n", sys.stdout)
            self.exit(2)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def format_help(self) -> str:
        self.complete()
        return super().format_help()


def complete_all(parser: argparse.ArgumentParser) -> None:
    """Add every deferred option of ``parser`` and its sub-commands (to generate shell completion, say)."""
    if isinstance(parser, CommandParser):
        parser.complete()
    for action in parser._actions:  # argparse keeps sub-commands only there
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                complete_all(sub)


def add_openstack_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Add openstacksdk's ``--os-*`` options to ``parser`` (those it does not have already), in a group of their own.

    Their defaults are dropped (keystoneauth fills some in from the ``OS_*``
    variables): those variables keep meaning what openstacksdk makes them mean
    when it loads the cloud, and only options given on the command line
    override the cloud entry.
    """
    import openstack.config
    import openstack.exceptions

    scratch = argparse.ArgumentParser(add_help=False)
    # --os-cloud is not peeked at: a missing cloud is reported when the command loads it, as a failure.
    peek = [arg for arg in argv if not arg.startswith("--os-cloud")] + _entry_auth_type(argv)
    try:
        openstack.config.OpenStackConfig(load_envvars=False).register_argparse_arguments(scratch, peek)
    except openstack.exceptions.ConfigException as exc:
        parser.error(str(exc))
    group = parser.add_argument_group("OpenStack options", "as the openstack command's; they override the cloud "
                                      "entry (clouds.yaml, $OS_CLOUD, else the OS_* variables)")
    taken = set(parser._option_string_actions)
    added = []
    for action in scratch._actions:
        if SKIPPED.intersection(action.option_strings) or taken.intersection(action.option_strings):
            continue
        if action.default is not False:  # left unset, --insecure stays False
            action.default = None
        # keystoneauth spells some options with underscores (--os-application_credential_secret): offer
        # the dashed spelling, as every other option has, too.
        dashed = [o.replace("_", "-") for o in action.option_strings if "_" in o]
        action.option_strings = [*action.option_strings, *(o for o in dashed if o not in taken)]
        group._add_action(action)  # argparse has no public way to move an option between parsers
        added.append(action.dest)
    parser.set_defaults(**{OPTIONS_DEST: tuple(added)})


def _entry_auth_type(argv: list[str]) -> list[str]:
    """``["--os-auth-type", TYPE]`` of the cloud entry ``argv`` (or ``$OS_CLOUD``) names, when argv gives none:
    the options of the entry's auth type (an application credential's secret, say) are then offered too."""
    import openstack.config

    if any(arg.startswith("--os-auth-type") for arg in argv):
        return []
    cloud = os.environ.get("OS_CLOUD")
    for index, arg in enumerate(argv):
        if arg == "--os-cloud" and index + 1 < len(argv):
            cloud = argv[index + 1]
        elif arg.startswith("--os-cloud="):
            cloud = arg.partition("=")[2]
    if not cloud:
        return []
    try:
        auth_type = openstack.config.OpenStackConfig().get_one(
            cloud=cloud, validate=False).config.get("auth_type")
    except Exception:  # noqa: BLE001 - a cloud that cannot be read is reported when the command loads it
        return []
    return ["--os-auth-type", str(auth_type)] if auth_type else []


def given_openstack_options(args: argparse.Namespace) -> argparse.Namespace:
    """The ``--os-*`` options given on the command line, as openstacksdk's ``get_one`` takes them."""
    given = {dest: getattr(args, dest) for dest in getattr(args, OPTIONS_DEST, ())
             if dest != "os_cloud" and getattr(args, dest, None) not in (None, "", False)}
    return argparse.Namespace(**given)
