"""The kali release number, in one place."""

__version_info__ = (0, 1, 0)
__version__ = ".".join(str(part) for part in __version_info__)
