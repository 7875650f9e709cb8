"""soundloc: find where sounds come from.

Simulate labelled multichannel scenes, compute spatial features, and localize sources with
classical and learned methods. See ``docs/architecture.md`` for the pipeline.
"""

__version__ = "0.1.0"
