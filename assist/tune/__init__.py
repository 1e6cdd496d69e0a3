"""The trainer's workbench behind ``assist tune``.

- :mod:`overrides`: ``--set key=value`` / ``--sweep key=start:stop:step`` applied to a pack's text;
- :mod:`packs`: packs with overrides, validated by the pack loader itself;
- :mod:`cache`: what the real pipeline heard in a recording, kept so it is transcribed once;
- :mod:`corpus`: recordings (through the pipeline, cached) and stored calls (from transcripts);
- :mod:`replay`: re-scoring a cached call with a pack (CallSession), or only its stage machine;
- :mod:`labels`, :mod:`metrics`: intended stages and how well a setting matches them;
- :mod:`sweep`: a grid of settings scored against labels, over worker processes;
- :mod:`report`: the HTML report with charts, current pack beside the change;
- :mod:`effect`: how anger moved after each prompt, from the call store.
"""
