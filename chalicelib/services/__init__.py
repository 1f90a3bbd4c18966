"""Services: the use cases (intake, consumer, sync, reconciliation, stats, admin), against ports."""
