"""Adapters: how the hub reaches a recipient. One protocol (`base.Adapter`), one module per way of
delivering, and an explicit registry (`registry.py`): nothing registers itself on import."""
