"""Robustness: hostile input at every edge, and no payment data leaking anywhere."""
