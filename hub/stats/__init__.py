"""Transparency: figures on referrals, response times, legal deadlines and deliveries (`figures`), their
HTML report with charts (`report`, `charts`), and statements of reasons in the EU DSA Transparency
Database format (`dsa`). No figure and no export carries personal data."""
