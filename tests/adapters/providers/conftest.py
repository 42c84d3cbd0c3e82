def pytest_collection_modifyitems(config, items):
    """Leave out the contract checks a provider's scheme makes meaningless (see contract.py)."""
    kept, dropped = [], []
    for item in items:
        cls = getattr(item, "cls", None)
        inapplicable = cls.inapplicable_checks() if cls is not None and hasattr(cls, "inapplicable_checks") else {}
        (dropped if item.originalname in inapplicable else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
