"""Logs in: reading, validating, quarantining and labelling router logs; splits and the training
window.
"""
