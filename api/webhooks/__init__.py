"""Webhooks' HTTP side: addresses checked, deliveries signed and posted
(`sender`), and the worker and sender run together in the elected process
(`running`). What is recorded, and where, is `projections.webhooks`'."""
