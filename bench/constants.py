"""Names shared by the world, the product's configuration and the baseline (import-light on
purpose: the baseline's process must not load more than httpx)."""

LOCATION_ID = "Lc9Xw2TqB7mR4dNs8KfA"
TAG = "cold lead"
BUCKET_ID = 70412
BUCKET_NAME = "Cold Leads"
