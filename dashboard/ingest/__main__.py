"""python -m dashboard.ingest: import a CRM export from the command line."""

import sys

from dashboard.ingest.cli import main

sys.exit(main())
