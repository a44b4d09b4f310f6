"""The product's URLs plus `bench/insert/`, the ceiling for a Django write on this machine, and
`bench/same-writes/`, the capture benchmark's same-writes reference.

The ceiling view runs in the same gunicorn, middleware and database as the product and does the least a
Django write can do: read the JSON body, insert it as one row, answer 201 with the new id. It exists only
under `benchmarks.bench_settings`, never in the product's URLs.

The same-writes view replays the writes a real capture of the kind named by `X-Bench-Kind` (new, hot,
merge) ran (`benchmarks.same_writes`, recorded by the benchmark process into `SAME_WRITES_DIR`) in one
transaction, after parsing the JSON body: the same rows in the same tables and indexes, without the logic.
"""

import json

from django.db import connection, transaction
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from benchmarks import same_writes
from config.urls import urlpatterns as product_urlpatterns

CEILING_TABLE = "bench_ceiling"
CREATE_CEILING_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {CEILING_TABLE} "
    "(id bigserial PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)


@csrf_exempt
@require_POST
def insert_one_row(request):
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"detail": "Send JSON."}, status=400)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {CEILING_TABLE} (body) VALUES (%s) RETURNING id", [json.dumps(body)])
        row_id = cursor.fetchone()[0]
    return JsonResponse({"id": row_id}, status=201)


_recordings: dict[str, same_writes.Recording] = {}


@csrf_exempt
@require_POST
def replay_same_writes(request):
    try:
        json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"detail": "Send JSON."}, status=400)
    kind = request.headers.get("X-Bench-Kind", "new")
    recording = _recordings.get(kind)
    if recording is None:
        recording = _recordings[kind] = same_writes.load(same_writes.SAME_WRITES_DIR / f"capture-{kind}.pickle")
    with transaction.atomic(), connection.cursor() as cursor:
        statements = recording.replay(cursor)
    return JsonResponse({"statements": statements}, status=201)


urlpatterns = [
    path("bench/insert/", insert_one_row, name="bench-insert"),
    path("bench/same-writes/", replay_same_writes, name="bench-same-writes"),
    *product_urlpatterns,
]
