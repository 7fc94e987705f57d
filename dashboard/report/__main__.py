"""python -m dashboard.report --week YYYY-Www [--db URL] --out FILE.html|FILE.pdf"""

import sys

from dashboard.report.report import main

sys.exit(main())
