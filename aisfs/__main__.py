import sys

from aisfs.cli.main import main

sys.exit(main())
