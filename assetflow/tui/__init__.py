"""The terminal UI (``assetflow ui``): Textual screens over :mod:`assetflow.views`.

This package is the only place that imports textual; the views it renders are plain data.
"""
