"""python -m dashboard.alerts [--db URL] [--near-hours 4] [--sla-hours H] [--mail] [--slack-webhook URL]
[--app-url URL] [--dry-run]"""

import sys

from dashboard.alerts.alerts import main

sys.exit(main())
