"""Request and response models of the HTTP API, named by role (ActionIn, DealOut)."""
