"""The notification outbox and its delivery channels."""
