"""After the close: pooling the orders, the fair split, pick lists and their confirmations, the close's notices."""
