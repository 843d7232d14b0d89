"""Audio: file I/O, the 2-channel representation and its inverse, normalisation."""
