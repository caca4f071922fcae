def register_checkpoint_safe_globals():
    pass
