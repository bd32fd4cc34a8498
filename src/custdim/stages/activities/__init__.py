"""Activities: events (orders, receipts, ...) linked to unified customers as UnifiedActivity."""
