"""The Dataset tab: drop a folder or files, see every file reported, preview and play one."""
