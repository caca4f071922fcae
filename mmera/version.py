"""Version of the mmera package."""
__version__ = '0.3.0'
