"""Keel: queue-based infrastructure that classifies, drafts, checks, delivers and audits
customer messages with LLMs, and keeps running when a provider does not."""
