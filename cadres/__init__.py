"""Village cadres (驻村干部): the households of one town, their pick lists and deliveries, confirmed for them."""
