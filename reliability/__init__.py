"""The reliability suite: a real `tierwise serve` process fuzzed, fed malformed requests, soaked
and given broken bundles under load (`make reliability`; a short run is a slow test).

Nothing here is imported by the service; it talks to the server over loopback HTTP only.
"""
