"""The HTTP layer: DRF views, serializers and the cross-cutting concerns of the API."""
