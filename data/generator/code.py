# ruff: noqa: E501  (vocabulary tables read better unwrapped)
"""Code-shaped content: snippets, diffs and stack traces to paste into requests.

Code shows up in requests of every intent (summarize this diff, tag this PR, fix this function),
so it is content like any other, not a marker of generate_code.
"""

from __future__ import annotations

import random

from data.generator.grammar import pick, render, ri

NOUNS = ("user", "order", "invoice", "ticket", "event", "session", "payment", "item", "record",
         "claim", "booking", "patient", "report", "account", "message")
VERBS = ("load", "parse", "validate", "fetch", "compute", "merge", "normalize", "filter", "sync",
         "export", "render", "score", "dedupe")

SNIPPETS = (
    ("python", "def {verb}_{noun}s({noun}s, limit={n}):\n    result = []\n    for {noun} in {noun}s:\n"
               "        if {noun}.get(\"status\") == \"{status}\":\n            result.append({noun})\n"
               "    return result[:limit]\n"),
    ("python", "class {Noun}Service:\n    def __init__(self, repo):\n        self.repo = repo\n\n"
               "    def {verb}(self, {noun}_id):\n        {noun} = self.repo.get({noun}_id)\n"
               "        if not {noun}:\n            raise KeyError({noun}_id)\n"
               "        return {{**{noun}, \"{field}\": {noun}[\"{field}\"].strip()}}\n"),
    ("python", "import pandas as pd\n\ndf = pd.read_csv(\"{noun}s.csv\")\n"
               "df = df[df[\"{field}\"].notna()]\nsummary = df.groupby(\"{field2}\")[\"{field}\"].sum()\n"
               "print(summary.sort_values(ascending=False).head({n}))\n"),
    ("javascript", "async function {verb}{Noun}(id) {{\n  const res = await fetch(`/api/{noun}s/${{id}}`);\n"
                   "  if (!res.ok) throw new Error(res.statusText);\n  const data = await res.json();\n"
                   "  return data.{field} ?? null;\n}}\n"),
    ("typescript", "export function {verb}{Noun}s(items: {Noun}[]): {Noun}[] {{\n"
                   "  return items\n    .filter((x) => x.{field} !== undefined)\n"
                   "    .sort((a, b) => a.{field2} - b.{field2});\n}}\n"),
    ("sql", "SELECT {field2}, COUNT(*) AS n, SUM({field}) AS total\nFROM {noun}s\n"
            "WHERE created_at >= '2026-{mm}-01'\nGROUP BY {field2}\nHAVING COUNT(*) > {n}\n"
            "ORDER BY total DESC;\n"),
    ("sql", "UPDATE {noun}s SET status = '{status}'\nWHERE id IN (\n  SELECT {noun}_id FROM {noun}_events"
            "\n  WHERE type = 'timeout'\n);\n"),
    ("bash", "#!/usr/bin/env bash\nset -e\nfor f in ./{noun}s/*.json; do\n"
             "  jq '.{field}' \"$f\" >> out.txt\ndone\nsort out.txt | uniq -c | sort -rn | head -{n}\n"),
    ("go", "func {Verb}{Noun}(ctx context.Context, id string) (*{Noun}, error) {{\n"
           "\tv, err := store.Get(ctx, id)\n\tif err != nil {{\n\t\treturn nil, fmt.Errorf(\"{verb} {noun}: %w\", err)\n"
           "\t}}\n\treturn v, nil\n}}\n"),
    ("java", "public List<{Noun}> {verb}{Noun}s(List<{Noun}> in) {{\n    return in.stream()\n"
             "        .filter(x -> x.get{Field}() != null)\n        .collect(Collectors.toList());\n}}\n"),
    ("diff", "--- a/{noun}_service.py\n+++ b/{noun}_service.py\n@@ -{n},7 +{n},9 @@\n"
             "-    timeout = 5\n+    timeout = 30\n+    retries = 3\n     {noun} = client.get(id)\n"
             "-    return {noun}\n+    return normalize({noun})\n"),
    ("trace", "Traceback (most recent call last):\n  File \"app/{noun}s.py\", line {n}{n}, in {verb}_{noun}\n"
              "    value = payload[\"{field}\"]\nKeyError: '{field}'\n"),
    ("trace", "TypeError: Cannot read properties of undefined (reading '{field}')\n"
              "    at {verb}{Noun} (src/{noun}s.js:{n}{n}:17)\n    at processTicksAndRejections\n"),
    ("yaml", "services:\n  {noun}-api:\n    image: {noun}-api:1.{n}\n    environment:\n"
             "      - {FIELD}_TIMEOUT={n}0\n    ports:\n      - \"80{n}:8080\"\n"),
)
FIELDS = ("amount", "status", "email", "created_at", "total", "name", "score", "region", "price",
          "quantity", "owner", "priority")
STATUS = ("active", "pending", "failed", "closed", "archived")


def code_slots(rng: random.Random) -> dict[str, str]:
    noun = pick(rng, NOUNS)
    verb = pick(rng, VERBS)
    field = pick(rng, FIELDS)
    field2 = pick(rng, FIELDS)
    return {"noun": noun, "Noun": noun.capitalize(), "verb": verb, "Verb": verb.capitalize(),
            "field": field, "Field": field.capitalize(), "FIELD": field.upper(), "field2": field2,
            "n": str(ri(rng, 2, 9)), "mm": f"{ri(rng, 1, 12):02d}", "status": pick(rng, STATUS)}


def snippet(rng: random.Random, lang: str | None = None) -> tuple[str, str]:
    """A (language, code) pair; `lang` restricts the choice when such snippets exist."""
    choices = [s for s in SNIPPETS if s[0] == lang] if lang else SNIPPETS
    kind, template = pick(rng, choices or SNIPPETS)
    slots = code_slots(rng)
    return kind, template.format(**slots)


def fenced(rng: random.Random, kind: str, code: str) -> str:
    if rng.random() < 0.35:
        return code.rstrip()
    tag = "" if kind in ("trace", "diff") or rng.random() < 0.3 else kind
    return f"```{tag}\n{code.rstrip()}\n```"


def code_task(rng: random.Random, records: str, fields: tuple[str, ...]) -> str:
    """A verb phrase asking for code about a domain's records."""
    f1, f2 = pick(rng, fields), pick(rng, fields)
    return render(pick(rng, CODE_TASKS), rng, {
        "records": records, "f1": f1, "f2": f2, "plang": lambda r: pick(r, ("Python", "TypeScript",
        "Go", "Java", "JavaScript", "Rust", "Kotlin", "C#")), "n": str(ri(rng, 2, 30))})


CODE_TASKS = (
    "write a SQL query that returns the top {n} {records} by {f1}",
    "write a [{plang} |]function that groups {records} by {f1} and sums {f2}",
    "write a regex that matches valid {f1} values[ like the ones in our {records}|]",
    "give me a bash one-liner to count {records} per {f1} in a CSV",
    "write unit tests for a function that validates {records}",
    "create a [pandas|polars|dplyr] snippet that drops duplicate {records} by {f1}",
    "write a [REST|GraphQL] endpoint in {plang} that returns {records} filtered by {f1}",
    "write a script that exports {records} to CSV every night",
    "generate a JSON schema for {records} with fields {f1} and {f2}",
    "write a {plang} class that caches {records} for {n} minutes",
    "write a migration that adds an index on {records}.{f1}",
    "implement pagination for the {records} list endpoint in {plang}",
    "write a function that retries the {records} sync with exponential backoff",
    "write a cron expression that runs the {records} cleanup every {n} minutes",
    "write a dbt model that joins {records} with accounts on {f1}",
)
