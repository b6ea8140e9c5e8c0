"""Engines beyond one process: Ray Data for the offline stages, Spark for lakehouse scoring.

Each needs its own extra (`pip install 'tierwise[ray]'`, `'tierwise[spark]'`); the default
in-process path imports none of them.
"""
