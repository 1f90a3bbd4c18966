"""CallTools: contacts and buckets over its REST API."""
