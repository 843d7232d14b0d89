"""What every part of the studio may use: settings, theme, resources, audio, error reporting, dialogs.

Nothing here imports a panel, a widget or a worker.
"""
