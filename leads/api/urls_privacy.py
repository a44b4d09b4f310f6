"""Privacy API (export, erase, object, consent log), mounted under /api/v1/."""

urlpatterns: list = []
