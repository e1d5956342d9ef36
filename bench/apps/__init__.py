"""Task modules loaded by the workers that ``bench/recovery.py`` starts (on their PYTHONPATH)."""
