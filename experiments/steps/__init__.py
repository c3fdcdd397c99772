"""Wiring layer: library functions wrapped with ``deferred`` and the ``@step`` functions that call them."""
