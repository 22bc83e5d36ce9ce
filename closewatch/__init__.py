"""closewatch: the command line and the wiring of one pipeline run."""

__version__ = "0.1.0"
