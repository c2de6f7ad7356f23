"""glo-tf1: a faithful TensorFlow 1 reproduction of Generative Latent Optimization (GLO).

Bojanowski et al., "Optimizing the Latent Space of Generative Networks" (2017), as
implemented by the blog post "generative latent optimization" (2017-10-12).
"""
__version__ = '0.3.0'
