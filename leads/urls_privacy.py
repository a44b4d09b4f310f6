"""Privacy pages (consent confirmation, unsubscribe, preferences, consent proof, data requests)."""

urlpatterns: list = []
