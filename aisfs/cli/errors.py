"""The one edge where a verb's failure becomes a line on stderr and an exit code.

    2    bad usage (UsageError, or argparse's own message)
    1    a request that failed, a file that could not be read or written, a bad value
    130  interrupted (Ctrl-C)

Nothing a user can cause prints a traceback; an exception not listed here is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

import httpx

from aisfs.cli.args import PROG, Handler, UsageError
from aisfs.cli.auth import AuthError
from aisfs.client.native import NativeError
from aisfs.client.props import PropError
from aisfs.config import ConfigError


def say(message: str, prog: str = PROG) -> None:
    """One line on stderr, after the program's name."""
    print(f"{prog}: {message}", file=sys.stderr)


def run_handler(func: Handler, ns: argparse.Namespace, prog: str = PROG) -> int:
    """Run a verb's handler; map what a user can cause to one line and an exit code."""
    try:
        return int(func(ns) or 0)
    except UsageError as e:
        say(str(e), prog)
        return 2
    except (NativeError, PropError, AuthError, ConfigError) as e:
        say(str(e), prog)
        return 1
    except httpx.HTTPError as e:
        say(f"transfer failed: {type(e).__name__}: {e}", prog)
        return 1
    except BrokenPipeError:
        # the reader of our stdout went away (`aisfs ls | head`): quietly, as cat does
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 1
    except OSError as e:
        say(f"{e.strerror or e}: {e.filename or ''}".rstrip(": "), prog)
        return 1
    except KeyboardInterrupt:
        say("interrupted", prog)
        return 130
