"""Talking HTTP to the OpenAI API: request building, the URL guard, the session, retries,
the deadline, capped body reads, server-sent events, downloads and error mapping."""
