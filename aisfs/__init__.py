"""aisfs: a storage node modelled on NVIDIA AIStore."""

__version__ = "0.1.0"
