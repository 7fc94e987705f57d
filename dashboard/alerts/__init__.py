"""SLA alerts: each rep told their pending MQLs past or near the SLA, each sales manager their team's, by mail and/or
Slack, and `python -m dashboard.alerts`."""
