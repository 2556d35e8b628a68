"""The demo (SPEC 10) and the pieces it and the end-to-end tests share: starting and
stopping real processes, a private Redis, and a webhook receiver that records every POST."""
