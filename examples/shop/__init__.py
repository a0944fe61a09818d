"""The example shop: orders, customers and products flowing into a revenue dashboard."""
