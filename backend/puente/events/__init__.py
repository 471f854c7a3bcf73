"""The event bus that carries "something changed" notices to subscribers."""
