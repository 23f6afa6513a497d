"""Court-ready evidence bundles: one file that proves what was sent, when, to whom, and what happened."""
