"""Runbook actions over boto3: plain functions taking a session, returning DataFrames or dataclasses."""
