"""A sample dubkit plugin: a synthesizer, a translator, and a deliberately broken synthesizer."""
