"""featrix-iac: declarative infrastructure as code for the Featrix Sphere ML platform."""

__version__ = "0.1.0"
