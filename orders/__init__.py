"""Orders, group orders and sheets, pooling and allocation, fulfilment."""
