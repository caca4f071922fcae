"""Version of the mmera package."""
__version__ = '0.1.0'
