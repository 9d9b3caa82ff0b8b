"""Claims (售后): a buyer's complaint on a delivered line, decided by an operator: refund, replacement or rejection."""
