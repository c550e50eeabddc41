"""The offline engine: policy findings from indicator matching, no model involved.

`OfflineAssessor` implements agent.assessor.Assessor. Its evidence comes from a
`SnippetScorer` (by default the rules' indicators; a trained snippet classifier can be
plugged in through the same protocol).
"""

from agent.offline.engine import ENGINE_VERSION, OfflineAssessor
from agent.offline.indicators import IndicatorScorer
from agent.offline.scoring import SnippetHit, SnippetScorer
from agent.offline.snippets import Snippet, site_snippets

__all__ = [
    "ENGINE_VERSION",
    "IndicatorScorer",
    "OfflineAssessor",
    "Snippet",
    "SnippetHit",
    "SnippetScorer",
    "site_snippets",
]
