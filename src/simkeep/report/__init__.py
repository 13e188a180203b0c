"""The back office's dashboard: one query per chart (renewals, revenue, numbers at risk, losses, reminder
conversion, payment success, review queue age), filtered by operator and period, with a table view and CSV."""
