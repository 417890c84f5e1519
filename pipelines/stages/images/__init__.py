"""The image branch of the flow, one module per group of stages."""

from pipelines.stages.images.branch import image_stages

__all__ = ["image_stages"]
