"""Collections: saved cards, domiciliación mandates, scheduled charges and dunning."""
