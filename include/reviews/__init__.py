"""Review sessions and issues in the app database (see ``include.reviews.store``)."""
