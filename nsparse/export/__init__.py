"""nsparse.export"""
