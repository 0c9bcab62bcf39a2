"""nsparse.opensearch"""
