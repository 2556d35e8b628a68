"""What Keel says to the models and how it reads their answers.

Owns the classification and draft prompts built from the policy (catalog, rules, the
customer's text fenced as data) and parsing the classifier's answer. The prompt value
type itself belongs to the providers, which send it.
"""

from app.prompts.build import (
    CATALOG_HEADER,
    CURRENCY_PREFIX,
    CUSTOMER_CLOSE,
    CUSTOMER_OPEN,
    HISTORY_CLOSE,
    HISTORY_OPEN,
    INTENT_PREFIX,
    KNOWLEDGE_HEADER,
    LANGUAGE_NAMES,
    LANGUAGE_PREFIX,
    Turn,
    catalog_lines,
    classify_prompt,
    draft_prompt,
    fence,
    fence_history,
    fence_name,
    knowledge_lines,
    user_turn,
    violation_lines,
)
from app.prompts.parse import parse_classification
from app.providers.prompt import Prompt

__all__ = [
    "CATALOG_HEADER",
    "CURRENCY_PREFIX",
    "CUSTOMER_CLOSE",
    "CUSTOMER_OPEN",
    "HISTORY_CLOSE",
    "HISTORY_OPEN",
    "INTENT_PREFIX",
    "KNOWLEDGE_HEADER",
    "LANGUAGE_NAMES",
    "LANGUAGE_PREFIX",
    "Prompt",
    "Turn",
    "catalog_lines",
    "classify_prompt",
    "draft_prompt",
    "fence",
    "fence_history",
    "fence_name",
    "knowledge_lines",
    "parse_classification",
    "user_turn",
    "violation_lines",
]
