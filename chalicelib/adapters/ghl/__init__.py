"""GoHighLevel: the contacts API and the marketplace webhook signatures."""
