"""The code host (GitHub / GitHub Enterprise): normalised events and a REST client."""
