"""What producers earn: payment terms, each producer's income per campaign (我的收入), overdue payouts."""
