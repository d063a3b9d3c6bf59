"""``python -m renewer``: the command line (see :mod:`renewer.entry.cli`)."""

import sys

try:
    from renewer.entry.cli import main

    status = main()
except KeyboardInterrupt:  # Ctrl-C before the command's own handler (while the SDKs load): nothing started
    status = 130
sys.exit(status)
