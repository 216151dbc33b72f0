"""Helpers the test tiers share: throwaway databases, service processes, a cuttable TCP proxy."""
