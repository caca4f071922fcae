"""Trunk-to-Branch (online multi-sub distillation): TrunkBranchDistiller,
PeerBranches."""
from .peer_branches import PeerBranches
from .trunk_branch_distiller import TrunkBranchDistiller

__all__ = ['PeerBranches', 'TrunkBranchDistiller']
