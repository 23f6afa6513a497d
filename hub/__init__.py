"""The cross-border referral hub: a neutral broker for signed NCII takedown and assistance referrals."""

__version__ = "0.1.0"
