import sys

from renewer.entry.cli import main

sys.exit(main())
