"""distill-studio: the PySide6 application over the ``distill`` core."""
