"""nsparse.data"""
