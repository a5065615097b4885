"""Model backends: loading hub or local VLMs, tiny offline models, and generation."""
