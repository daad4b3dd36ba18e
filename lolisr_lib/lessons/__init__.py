"""Helpers that only the notebooks use: the measurements and toy problems each lesson builds on.

One module per topic; the figures that go with them are in :mod:`lolisr_lib.viz`.
"""
