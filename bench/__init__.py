"""Benchmarks (``python -m bench``) and the loopback stack the failure suite shares with them."""
