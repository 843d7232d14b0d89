"""distill.data"""
