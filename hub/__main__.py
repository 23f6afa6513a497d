import sys

from hub.cli.main import main

sys.exit(main())
