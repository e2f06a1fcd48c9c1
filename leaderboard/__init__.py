"""condbench leaderboard: result records in, a static site and safe submissions out.

record.py      the versioned result record (one JSON file per grid cell)
aggregate.py   records -> entries (Quality, intervals, ΔRandom, speed-up)
chart.py       geometry of the Quality-vs-ratio chart (inline SVG)
downloads.py   leaderboard.csv / leaderboard.json
site.py        renders the site with the Jinja2 templates in templates/
submission/    submission validation: safe unpacking, checks (evaluation: harness.run.submission)
"""
