"""nextbest: real-time next best decisions for customers."""
