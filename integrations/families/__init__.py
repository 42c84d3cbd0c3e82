"""Integration families: each module registers its model, serializers and provider bindings."""
