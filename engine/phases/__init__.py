"""The engine's phases, one module each (see docs/engine.md, "Stages").

``segments`` -> ``measure`` (map per person chunk) -> ``reduce`` (once) -> ``reward`` (map)
-> ``settle``; ``fast`` is the column-wise path for plain tier tables. ``engine.pipeline``
runs them in order (:func:`engine.compute`).
"""
