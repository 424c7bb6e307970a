"""schemathesis hooks for evni (loaded by scripts/schemathesis.sh).

POST /v1/models/uploads takes NDJSON: its OpenAPI schema is the sequence of
sessions, one JSON value per line. schemathesis knows no NDJSON, so this
writes a generated list as one line per item; anything else (negative cases)
is written as a single line.
"""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    items = value if isinstance(value, list) else [value]
    lines = "".join(json.dumps(item) + "\n" for item in items)
    return {"data": lines.encode()}
