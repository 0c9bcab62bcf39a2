"""nsparse.model"""
