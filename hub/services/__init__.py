"""Use cases: each joins the pure core to the store for one thing a participant or operator does."""
