"""The console's pages: `login`, `inbox`, `cases` (list, case page, evidence), `compose` (forms)."""
