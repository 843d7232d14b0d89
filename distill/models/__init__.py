"""distill.models"""
