import sys

from renewer.cli import main

sys.exit(main())
