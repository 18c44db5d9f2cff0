"""What operators look at: lag evaluation and the health summary. Pure where it can be."""
