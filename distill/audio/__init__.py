"""Audio: file I/O, the 2-channel representation (``config``: ``ComplexSpectrogramConfig``)
and its inverse, normalisation."""
