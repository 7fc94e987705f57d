"""python -m dashboard.report --week YYYY-Www|last [--db URL] [--out FILE.html|FILE.pdf] [--mail-to a@x,b@y]
[--slack-webhook URL] [--app-url URL]"""

import sys

from dashboard.report.report import main

sys.exit(main())
