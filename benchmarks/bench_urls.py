"""The product's URLs plus `bench/insert/`, the ceiling for a Django write on this machine.

The ceiling view runs in the same gunicorn, middleware and database as the product and does the least a
Django write can do: read the JSON body, insert it as one row, answer 201 with the new id. It exists only
under `benchmarks.bench_settings`, never in the product's URLs.
"""

import json

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

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


urlpatterns = [path("bench/insert/", insert_one_row, name="bench-insert"), *product_urlpatterns]
