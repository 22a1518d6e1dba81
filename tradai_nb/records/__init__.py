"""What every run and change leaves behind: audit records, the change gate that writes them ahead, their anchoring."""
