"""Offline replay of routing policies on held-out logs (`tierwise evaluate`) and the tier
thresholds tuned on it.
"""
