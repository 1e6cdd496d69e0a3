"""One anger score per utterance from words, voice and triggers.

    blend = (words_w * word_anger + voice_w * voice_arousal) / (words_w + voice_w)
    anger = min(1, max(word_anger, blend) + (trigger_boost if any trigger else 0))

With no voice result (too little speech, or voice weight 0) the blend is the word score alone.
Taking the larger of the words and the blend means a raised voice lifts mild words, while an
angry sentence said quietly ("polite fury") keeps its word score: a calm voice is not evidence
of calm. Voice arousal is not anger by itself (excitement is aroused too), which is why it is
blended with the words rather than used alone. The weights come from the prompt pack
(settings.fusion) so a trainer can change them; the defaults are a design choice, not fitted:
no dataset here has both real call words and voice.
"""

from __future__ import annotations

from assist.events import TriggerHit
from assist.scoring.settings import FusionWeights


def fuse(word_anger: float, voice_arousal: float | None, triggers: tuple[TriggerHit, ...],
         weights: FusionWeights) -> float:
    blend = word_anger
    if voice_arousal is not None and weights.voice > 0:
        total = weights.words + weights.voice
        blend = (weights.words * word_anger + weights.voice * voice_arousal) / total
    boost = weights.trigger_boost if triggers else 0.0
    return min(1.0, max(word_anger, blend) + boost)
