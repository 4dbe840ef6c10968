"""Webhooks on the read side: subscriptions and their outbox in the database
(`subscriptions`, `outbox`), and the worker that turns the log's phase changes
into deliveries (`worker`). Posting them is the API's (`api.webhooks`)."""
