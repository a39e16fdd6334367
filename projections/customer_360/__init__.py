"""The customer 360 view: one row per customer in table `customer_360`."""
