"""The policy pack's entry point: the Pulumi CLI runs this directory with the python of
the pack's virtualenv (PulumiPolicy.yaml) and talks to the analyzer PolicyPack starts.
Every violation is mandatory: it fails the preview or the update."""

from hardening import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
