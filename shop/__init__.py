"""Campaign pages, the catalogue, cart and checkout."""
