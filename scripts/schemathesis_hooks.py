"""Schemathesis hooks for scripts/schemathesis.sh (SCHEMATHESIS_HOOKS).

NDJSON bodies (a contact upload, `application/x-ndjson`) have no built-in
serializer: the document gives them as text, so the generated text is sent
as its UTF-8 bytes, as `text/csv` bodies are.
"""

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    # A value of another type (the negative phases break the schema): one JSON line.
    import json

    return (json.dumps(value) + "\n").encode("utf-8")
