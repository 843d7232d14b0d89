"""distill.latent"""
