"""The model inside mmengine's wrappers."""
from torch import nn


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside DDP/FSDP wrappers and test-time-augmentation."""
    from mmengine.model import BaseTTAModel, is_model_wrapper
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model
